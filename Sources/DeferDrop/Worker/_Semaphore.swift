import _DeferDropShims

/// A counting semaphore over the platform layer's (`_deferdrop_semaphore`), to
/// park an idle worker and block a thread in `flush()`: a post before the wait
/// is never lost. A `fork()` child reinitializes only its queues' wake-ups; the
/// parent's waiters' semaphores are abandoned, never resumed or freed (`_Abandoned`).
@usableFromInline
final class _Semaphore: @unchecked Sendable {
    // @unchecked Sendable: the layer's semaphore is made to be shared, and the
    // pointer is written once and freed in deinit, when no other thread holds it.
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

    /// Waits until posted or `nanoseconds` have passed; returns whether it was posted.
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
