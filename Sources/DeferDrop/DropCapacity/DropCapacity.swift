/// How many values a worker may hold before a hand-off must wait or destroy
/// the value itself.
///
/// The Rust crate's queue is unbounded: "if you produce more garbage than the
/// thread can handle, this will cause unbounded memory consumption". A bound
/// caps that. *Pending* values are the ones handed over and not yet destroyed,
/// counting the one being destroyed right now, so with `.bounded(n, …)` at most
/// `n` values' worth of memory waits on the worker at any moment and
/// ``DropStatistics/peakPending`` never exceeds `n`.
///
/// ```swift
/// // At most 64 responses waiting to be freed; past that, producers wait.
/// let worker = DropWorker(name: "responses", capacity: .bounded(64, whenFull: .block))
/// ```
///
/// One exception keeps a bound from deadlocking: a destructor running on a
/// worker that hands further values to *that same* worker (a value holding
/// ``DeferDrop`` wrappers) is never held back. Those values are destroyed in
/// place, which adds nothing pending; past ``DropWorker/maximumNestingDepth``
/// levels, or for a value still referenced elsewhere, they are queued even
/// when the worker is full, since waiting would wait for the worker itself.
/// Their memory was already part of the value being destroyed, so the memory
/// bound still holds, but ``DropStatistics/peakPending`` counts the queued
/// ones and may then exceed `n`.
///
/// With ``OverflowPolicy/block``, a full worker blocks the producer's
/// *thread*, a cooperative-pool thread when the hand-off happens in an
/// `async` function: see ``OverflowPolicy/block``.
public enum DropCapacity: Sendable, Hashable {
    /// No bound: every hand-off is queued. The Rust crate's behaviour, and the default.
    case unbounded

    /// At most `count` values pending; a hand-off that finds the worker full
    /// does what `whenFull` says. `count` must be at least 1.
    case bounded(Int, whenFull: OverflowPolicy)
}

extension DropCapacity {
    /// The bound and its policy, or `nil` for `.unbounded`, after checking the
    /// count. `owner` names the initializer in the message.
    package func _checkedBound(for owner: String) -> (count: UInt64, policy: OverflowPolicy)? {
        switch self {
        case .unbounded:
            return nil
        case .bounded(let count, let policy):
            _precondition(
                count >= 1,
                "\(owner)(capacity: .bounded(\(count), …)): the capacity must be at least 1")
            return (UInt64(count), policy)
        }
    }
}
