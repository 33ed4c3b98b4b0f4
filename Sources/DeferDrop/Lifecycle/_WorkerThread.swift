import _DeferDropShims

/// The names of the OS threads that workers run on.
enum _WorkerThread {
    /// The longest thread name the system keeps, in bytes without the NUL, and
    /// never less than Linux's, so names read the same in diagnostics everywhere.
    static let maximumNameLength = max(Int(_deferdrop_thread_name_capacity()), 15)

    /// `name` cut to at most `maximumNameLength` UTF-8 bytes, never inside a
    /// character; `suffix` (a pool thread's index) is kept whole.
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
