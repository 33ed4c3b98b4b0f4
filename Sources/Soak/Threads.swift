#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A producer thread of the soak: started at once, joined by `join()`.
///
/// Plain POSIX threads, not tasks: the hand-off's per-thread state is what
/// the soak exercises, including threads that end with values still in it.
struct SoakThread {
    private let thread: pthread_t

    init(_ body: @escaping @Sendable () -> Void) {
        let context = Unmanaged.passRetained(Entry(body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { context in
            Unmanaged<Entry>.fromOpaque(context!).takeRetainedValue().body()
            return nil
        }, context)
        precondition(result == 0, "soak: pthread_create failed: \(result)")
        self.thread = thread
    }

    func join() {
        pthread_join(thread, nil)
    }

    private final class Entry {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}

/// The calling thread's identity.
func currentThread() -> UInt { UInt(bitPattern: Int(bitPattern: pthread_self())) }

/// Spins for about `nanoseconds`, to make a destructor slow.
func spin(nanoseconds: UInt64) {
    guard nanoseconds > 0 else { return }
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    let end = UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec) + nanoseconds
    repeat {
        clock_gettime(CLOCK_MONOTONIC, &now)
    } while UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec) < end
}

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}
