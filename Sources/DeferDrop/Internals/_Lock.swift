#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A mutex that owns the state it protects, over a plain glibc `pthread_mutex_t`.
///
/// Why not the standard library's `Synchronization.Mutex`: on Linux it is a
/// priority-inheritance futex (`FUTEX_LOCK_PI`). Under contention every
/// acquisition goes through the kernel's rt-mutex hand-over, which passes the
/// lock to a sleeping thread rather than let a running one take it, and the
/// queue convoys: measured on 2 cores, 8 producers paid 27 µs per hand-off with
/// it, against tens of nanoseconds with this lock (see Docs/Architecture.md).
/// A queue whose critical sections are a few stores wants the opposite trade:
/// let a running thread barge in. The mutex is `PTHREAD_MUTEX_ADAPTIVE_NP`,
/// which spins briefly before sleeping, as fits sections this short.
/// `package` so that the package's other modules share it.
package final class _Lock<State: ~Copyable & Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `state` is only reached through `withLock`, which
    // holds `mutex` for the whole access, `mutex` is made to be shared, and
    // the state itself may cross threads (it is `Sendable`).
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    // Unchecked: the mutex already makes every access exclusive, and the
    // runtime check (two calls into a thread-local access set per critical
    // section) was a measurable part of a hand-off's cost.
    @exclusivity(unchecked)
    private var state: State

    package init(_ state: consuming State) {
        self.state = state
        mutex = .allocate(capacity: 1)
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ADAPTIVE_NP))
        let result = pthread_mutex_init(mutex, &attributes)
        pthread_mutexattr_destroy(&attributes)
        _precondition(result == 0, "pthread_mutex_init failed: \(result)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `body` with exclusive access to the state.
    @inline(__always)
    package func withLock<Result: ~Copyable>(_ body: (inout State) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }
}
