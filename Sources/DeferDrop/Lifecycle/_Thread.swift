import _DeferDropShims

/// A plain pthread: the one way the package starts a thread (`package` for the
/// demo's, the soak's and the tests'). Not Foundation's `Thread` or Dispatch:
/// the library depends on nothing but the standard and C libraries.
package struct _Thread: Sendable {
    private let thread: _deferdrop_thread

    /// Starts a joinable thread that runs `body`, named `name` if it is not empty
    /// (already cut: `osName`). Join it to free its resources.
    package init(named name: String = "", _ body: @escaping @Sendable () -> Void) {
        thread = Self.spawn(named: name, detached: false, body)
    }

    /// Starts a detached thread that runs `body`, named `name` if it is not empty.
    package static func detach(named name: String = "", _ body: @escaping @Sendable () -> Void) {
        _ = spawn(named: name, detached: true, body)
    }

    /// Waits until the thread has ended.
    package func join() {
        let result = _deferdrop_thread_join(thread)
        _precondition(result == 0, "DeferDrop could not join a thread: error \(result)")
    }

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

    private static func spawn(named name: String, detached: Bool, _ body: @escaping @Sendable () -> Void) -> _deferdrop_thread {
        let context = Unmanaged.passRetained(_ThreadContext(name: name, body: body)).toOpaque()
        var thread = _deferdrop_thread()
        let start: _deferdrop_thread_body = { rawContext in
            let context = Unmanaged<_ThreadContext>.fromOpaque(rawContext!).takeRetainedValue()
            if !context.name.isEmpty { _ = _deferdrop_set_current_thread_name(context.name) }
            context.body()
            return nil
        }
        let result = detached
            ? _deferdrop_thread_start(start, context, nil)
            : _deferdrop_thread_start(start, context, &thread)
        guard result == 0 else {
            Unmanaged<_ThreadContext>.fromOpaque(context).release()
            fatalError("DeferDrop could not start the thread \"\(name)\": error \(result)")
        }
        return thread
    }
}

/// What a new thread needs, passed through the thread's single context pointer.
private final class _ThreadContext: Sendable {
    let name: String
    let body: @Sendable () -> Void

    init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }
}
