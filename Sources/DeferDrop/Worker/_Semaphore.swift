import _DeferDropShims

/// A counting semaphore over the platform layer's (`_deferdrop_semaphore`):
/// the one blocking primitive the package needs, to park an idle worker and
/// to block a thread in `flush()`.
///
/// Because it counts, a post that lands before the matching wait is never
/// lost. On Linux with glibc a post nobody waits for is one atomic add and
/// waking a sleeper one system call; elsewhere it is a condition variable.
///
/// In the child of a `fork()`, the one semaphore the child reuses, its
/// queue's wake-up, is made usable again (`reinitializeInForkChild`); the
/// semaphores the parent's threads waited on stay with those waiters, which
/// the child keeps and never resumes or frees (`_Abandoned`).
@usableFromInline
final class _Semaphore: @unchecked Sendable {
    // @unchecked Sendable: the layer's semaphore is made to be shared between
    // threads, and the pointer is written once here and freed only in deinit,
    // when no other thread can hold a reference any more.
    private let handle: OpaquePointer

    init() {
        guard let handle = _deferdrop_semaphore_create() else {
            fatalError("DeferDrop could not create a semaphore: out of memory or of system resources")
        }
        self.handle = handle
    }

    deinit {
        _deferdrop_semaphore_destroy(handle)
    }

    /// Adds one to the count, waking one waiter if there is one.
    func signal() {
        let result = _deferdrop_semaphore_post(handle)
        _precondition(result == 0, "DeferDrop could not post a semaphore: error \(result)")
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
        _precondition(result == 0 || result == DEFERDROP_TIMED_OUT, "DeferDrop could not wait on a semaphore: error \(result)")
        return result == 0
    }

    /// The count right now, for a diagnosis: posts not yet taken.
    var value: Int32 {
        _deferdrop_semaphore_count(handle)
    }

    /// Waits until the count is positive, then takes one from it.
    func wait() {
        let result = _deferdrop_semaphore_wait(handle)
        _precondition(result == 0, "DeferDrop could not wait on a semaphore: error \(result)")
    }

    /// In the child of a `fork()`: usable again, with its count, though a
    /// thread the child does not have may have been posting it.
    func reinitializeInForkChild() {
        _deferdrop_semaphore_reinitialize_in_fork_child(handle)
    }
}
