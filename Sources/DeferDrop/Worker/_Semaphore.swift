#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import _DeferDropShims

/// A counting semaphore over POSIX `sem_t`: the one blocking primitive the
/// package needs, to park an idle worker and to block a thread in `flush()`.
///
/// glibc implements `sem_post` and `sem_wait` on a futex, so a post nobody waits
/// for is one atomic add and waking a sleeper is one system call. Because it
/// counts, a post that lands before the matching wait is never lost. It is a
/// class so that the `sem_t` keeps one address for its whole life, as POSIX
/// requires after `sem_init`.
@usableFromInline
final class _Semaphore: @unchecked Sendable {
    // @unchecked Sendable: a `sem_t` is made to be shared between threads, and
    // the pointer is written once here and freed only in deinit, when no other
    // thread can hold a reference any more.
    private let handle: UnsafeMutablePointer<sem_t>

    init() {
        handle = .allocate(capacity: 1)
        let result = sem_init(handle, 0, 0)
        _precondition(result == 0, "sem_init failed with errno \(errno)")
    }

    deinit {
        sem_destroy(handle)
        handle.deallocate()
    }

    /// Adds one to the count, waking one waiter if there is one.
    func signal() {
        let result = sem_post(handle)
        _precondition(result == 0, "sem_post failed with errno \(errno)")
    }

    /// Waits at most `timeout` for the count to be positive, then takes one from
    /// it; returns whether it did.
    func wait(timeout: Duration) -> Bool {
        wait(nanoseconds: timeout._nanoseconds)
    }

    /// Waits until the semaphore is posted or `nanoseconds` have passed;
    /// returns whether it was posted.
    func wait(nanoseconds: UInt64) -> Bool {
        let result = _deferdrop_semaphore_wait_for(handle, nanoseconds)
        _precondition(result == 0 || result == ETIMEDOUT, "sem_clockwait failed with errno \(result)")
        return result == 0
    }

    /// The count right now, for a diagnosis: posts not yet taken.
    var value: Int32 {
        var value: Int32 = 0
        sem_getvalue(handle, &value)
        return value
    }

    /// Waits until the count is positive, then takes one from it.
    func wait() {
        while sem_wait(handle) != 0 {
            _precondition(errno == EINTR, "sem_wait failed with errno \(errno)")
        }
    }
}
