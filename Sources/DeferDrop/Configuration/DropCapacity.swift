/// How far a worker may fall behind, in time or in values, before a hand-off
/// destroys its value itself or waits.
///
/// The ``default``, ``unbounded``, keeps the Rust crate's promise: every value
/// is destroyed on the worker, each producer's in its order, however far
/// behind it falls, so its memory grows without bound if it cannot keep up. A
/// saturated server sets ``server`` instead (<doc:BeyondTheCrate>).
///
/// With `.bounded(n, …)`, ``DropStatistics/peakPending`` stays at most `n`,
/// except that a destructor running on a worker is never held back by that
/// worker's bound: what it hands over is destroyed in place or, past
/// ``DropWorker/maximumNestingDepth``, queued.
public enum DropCapacity: Sendable, Hashable {
    /// No bound, the ``default``: every value is destroyed on the worker,
    /// however far behind it is. Runs at ``DropPriority/batch`` unless told otherwise.
    case unbounded

    /// At most `count` values pending; a hand-off that finds the worker full
    /// does what `whenFull` says. `count` must be at least 1.
    case bounded(Int, whenFull: OverflowPolicy)

    /// Bounded in time: the worker is *behind* once it has been busy with one
    /// batch, or not started on values it was woken for, for longer than
    /// `maximumWait`, and stays so until it has caught up with the queue.
    ///
    /// While it is behind, a hand-off destroys its value inline, counted in
    /// ``DropStatistics/destroyedInline``, after destroying queued values,
    /// oldest first, for up to `maximumWait` if the worker holds none of them.
    /// So the worker holds at most about twice `maximumWait`'s worth of
    /// production, and the threads that have CPU free the rest.
    ///
    /// Every value is destroyed exactly once, and queued values keep their
    /// producer's order, though another producer may free them; an inline one
    /// goes ahead of its producer's queued values. A producer never waits for
    /// the worker, even one preempted inside its critical section.
    ///
    /// `maximumWait` must be positive. It is read from the kernel's coarse
    /// monotonic clock, so a bound of a few of its ticks is precise enough; a
    /// thread that hands over faster than the clock ticks reads it at one
    /// hand-off in 32. Runs at ``DropPriority/idle`` unless told otherwise.
    case timeBounded(maximumWait: Duration)
}

extension DropCapacity {
    /// The capacity of ``DropWorker/shared`` and of every worker made without
    /// one: ``unbounded``, the Rust crate's promise.
    public static let `default` = DropCapacity.unbounded

    /// The time bound for a saturated server, 20 ms:
    /// `DropWorker.shared.capacity = .server` at startup.
    public static let server = DropCapacity.timeBounded(maximumWait: .milliseconds(20))

    /// The priority of a worker made with this capacity and none given:
    /// ``DropPriority/idle`` for ``timeBounded(maximumWait:)``, whose producers
    /// free their values themselves while it is behind, so it takes only spare
    /// CPU; ``DropPriority/batch`` otherwise, since an unbounded or count-bounded
    /// worker must get CPU whatever the load.
    public var defaultPriority: DropPriority {
        switch self {
        case .timeBounded: .idle
        case .unbounded, .bounded: .batch
        }
    }
}
