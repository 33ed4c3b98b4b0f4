import _DeferDropShims

/// The names of the OS threads that workers run on.
enum _WorkerThread {
    /// The longest thread name the system keeps, in bytes, without the final
    /// NUL: 15 on Linux, 63 on Darwin. Where threads cannot be named (the
    /// POSIX-only layer), names are still cut as on Linux, so that they read
    /// the same in diagnostics everywhere.
    static let maximumNameLength = max(Int(_deferdrop_thread_name_capacity()), 15)

    /// `name` cut to at most `maximumNameLength` UTF-8 bytes, never inside a
    /// character's encoding.
    ///
    /// A `suffix` is kept whole and the name before it is cut instead, so that
    /// the threads of a pool keep their index: on Linux, `osName(for:
    /// "image-decoder", keeping: "-12")` is `"image-decode-12"`.
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
