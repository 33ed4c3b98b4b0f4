/// What a hand-off does when its worker already holds as many pending values
/// as its ``DropCapacity`` allows.
public enum OverflowPolicy: Sendable, Hashable {
    /// The producer waits until the worker has destroyed enough to make room:
    /// backpressure. Memory stays bounded and every value is still destroyed on
    /// the worker, in order; the producer pays with waiting.
    ///
    /// The wait always ends. A worker's thread runs in a fair scheduling class
    /// (see ``DropPriority``), so it gets CPU time even while every core is
    /// busy, and ``DropWorker/shutdown()`` or the drain at exit wake every
    /// waiting producer. Two exceptions never wait, to avoid waiting for
    /// themselves:
    /// - a destructor running on the same worker: its values are destroyed in
    ///   place (see ``DropWorker/maximumNestingDepth``) or, deeper, queued;
    /// - a destructor running on *another* worker (a `DropWorker` or a pool's
    ///   shard): the value is destroyed right there, on that worker's thread,
    ///   which is never a producer's, so two full workers cannot wait on each other.
    ///
    /// **In `async` code the wait blocks a thread.** A hand-off is a
    /// synchronous call: a task that hands a value to a full `.block` worker
    /// blocks the thread it runs on, one of the few threads of Swift's
    /// cooperative pool, and every task queued on that thread waits with it.
    /// Where hand-offs happen in `async` functions (a server's request
    /// handlers, say), use ``destroyInline`` instead, which never waits, or
    /// `await deferDropAndWait(_:on:)` where the task should wait for the
    /// memory without holding its thread.
    case block

    /// The producer destroys the value itself, at once, when the worker is
    /// full: nothing is queued beyond the bound and the producer never waits.
    /// ``DropStatistics/destroyedInline`` counts these. The value is then freed
    /// on the producer's thread, ahead of values it handed over earlier that
    /// are still queued.
    case destroyInline
}
