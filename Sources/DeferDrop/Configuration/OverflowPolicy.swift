/// What a hand-off does when its worker holds as many pending values as its
/// ``DropCapacity`` allows.
public enum OverflowPolicy: Sendable, Hashable {
    /// The producer waits until the worker has made room: memory stays bounded
    /// and every value is still destroyed on the worker, in order.
    ///
    /// The wait always ends: the worker runs in a fair class, and
    /// ``DropWorker/shutdown()`` or the drain at exit wakes every waiting
    /// producer. A destructor running on a worker never waits, so workers never
    /// wait on each other. In `async` code the wait blocks a thread of the
    /// cooperative pool: use ``destroyInline`` there.
    case block

    /// The producer destroys the value itself, at once, never waiting, ahead
    /// of its values still queued; counted in ``DropStatistics/destroyedInline``.
    case destroyInline
}
