#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import _DeferDropShims

/// Starting the OS threads that workers run on.
///
/// Workers use plain detached pthreads rather than Foundation's `Thread` or a
/// Dispatch queue: the library depends on nothing but the standard library and
/// the C library, a worker needs nothing more than a thread and a name, and
/// nobody joins it (shutdown waits on the queue's state, not on the thread).
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

    /// Starts a detached thread named `name` (already cut to the limit) that runs `body`.
    static func start(named name: String, _ body: @escaping @Sendable () -> Void) {
        _ = spawn(named: name, detached: true, body)
    }

    /// Runs `body` on a new thread named `name` and returns once that thread
    /// has ended.
    static func runToEnd(named name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = spawn(named: name, detached: false, body)
        let result = pthread_join(thread, nil)
        _precondition(result == 0, "DeferDrop could not join the thread \"\(name)\": pthread_join returned \(result)")
    }

    private static func spawn(named name: String, detached: Bool, _ body: @escaping @Sendable () -> Void) -> pthread_t {
        let context = Unmanaged.passRetained(_ThreadContext(name: name, body: body)).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(detached ? PTHREAD_CREATE_DETACHED : PTHREAD_CREATE_JOINABLE))
        var thread = pthread_t()
        let result = pthread_create(&thread, &attributes, { rawContext in
            let context = Unmanaged<_ThreadContext>.fromOpaque(rawContext!).takeRetainedValue()
            _ = _deferdrop_set_current_thread_name(context.name)
            context.body()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<_ThreadContext>.fromOpaque(context).release()
            fatalError("DeferDrop could not start the thread \"\(name)\": pthread_create returned \(result)")
        }
        return thread
    }
}

/// What a new thread needs, passed through `pthread_create`'s single pointer.
private final class _ThreadContext: Sendable {
    let name: String
    let body: @Sendable () -> Void

    init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }
}
