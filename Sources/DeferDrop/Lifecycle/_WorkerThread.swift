/// The names of the OS threads that workers run on.
enum _WorkerThread {
    /// The longest thread name Linux keeps, in bytes, without the final NUL.
    static let maximumNameLength = 15

    /// `name` cut to at most 15 UTF-8 bytes, never inside a character's encoding.
    ///
    /// A `suffix` is kept whole and the name before it is cut instead, so that
    /// the threads of a pool keep their index: `osName(for: "image-decoder",
    /// keeping: "-12")` is `"image-decode-12"`.
    static func osName(for name: String, keeping suffix: String = "") -> String {
        var result = ""
        var length = suffix.utf8.count
        for scalar in name.unicodeScalars {
            length += UTF8.width(scalar)
            guard length <= maximumNameLength else { break }
            result.unicodeScalars.append(scalar)
        }
        return result + suffix
    }
}
