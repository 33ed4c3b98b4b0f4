/// Counters of one worker: what it was given and how far it has got.
///
/// Read them with ``DropWorker/statistics``. Each read is a consistent snapshot
/// taken under the worker's lock. The worker publishes its progress once per
/// batch of values, so while it is busy ``destroyed`` may lag slightly behind
/// the truth; after `flush()` returns, with no hand-offs racing
/// it, the counters are exact: ``deferred`` equals ``destroyed`` and
/// ``pending`` is zero.
///
/// Values that a destructor running on the worker hands to that same worker
/// are destroyed by the worker right there (see ``DropWorker/maximumNestingDepth``):
/// they count in ``deferred`` and ``destroyed``, not in ``destroyedInline``.
///
/// To add up the counters of several workers, use ``combined(with:)``.
public struct DropStatistics: Sendable, Hashable {
    /// Values handed to this worker, including those destroyed inline by a
    /// producer's thread (see ``destroyedInline``).
    public var deferred: UInt64

    /// Values whose destruction has finished: on the worker's thread, or
    /// inline, on a producer's (``destroyedInline``).
    public var destroyed: UInt64

    /// Values handed over and not yet destroyed: `deferred - destroyed`, or
    /// zero if a hand-built value has `destroyed` above `deferred`.
    public var pending: UInt64 { deferred >= destroyed ? deferred - destroyed : 0 }

    /// Of ``destroyed``, the values destroyed on a thread that hands values
    /// over rather than on the worker's: after the worker was shut down, when
    /// a bounded worker was full under ``OverflowPolicy/destroyInline``, when
    /// a destructor running on another worker found this one full (see
    /// ``OverflowPolicy/block``), or, with
    /// ``DropCapacity/timeBounded(maximumWait:)``, while the worker was
    /// behind: a producer's own value, and the queued values a producer took
    /// from the worker then, which may be another producer's.
    public var destroyedInline: UInt64

    /// The largest ``pending`` has ever been, as seen at each hand-off.
    public var peakPending: UInt64

    /// Bytes freed by the worker's own thread, or `nil` where this build cannot
    /// measure them.
    ///
    /// With the package trait `Jemalloc`, this is jemalloc's per-thread
    /// `thread.deallocated` counter for the worker's thread, cumulative since the
    /// thread started: everything the destructors it ran freed, plus the few
    /// bytes of the worker's own bookkeeping (a small box per value that is not
    /// a class instance: 32 bytes for an array). jemalloc counts usable, size-class bytes, not the
    /// bytes asked for: `malloc(100)` counts 112. The worker publishes it with
    /// ``destroyed``, so it is exact after `flush()`. Values destroyed inline,
    /// after a shutdown, are freed on their producers and not counted. `0` until
    /// the worker's thread has started.
    ///
    /// Without the trait it is `nil`: glibc's malloc does not count per thread.
    public var reclaimedBytes: UInt64?

    /// Of ``destroyed``, the values the worker released while a reference to
    /// them was still held elsewhere, so that its release was not the last one
    /// and the value was actually destroyed wherever that other reference
    /// ended: most often on the thread that handed it over, the very thread
    /// deferring was meant to spare.
    ///
    /// The usual cause is a hand-off without `consume`: `deferDrop(table)`
    /// followed by more work in the same scope keeps the local `table` alive
    /// until the scope ends. Write `deferDrop(consume table)`. A value you
    /// deliberately share (an object a cache also holds) counts here too.
    ///
    /// The worker tests a reference count just before it releases a value: a
    /// Swift class instance, or the buffer of a `ContiguousArray`, and on
    /// Linux of an `Array`, `Dictionary` or `Set` (other values, such as a
    /// struct holding references or an Objective-C object, are not inspected;
    /// constants the compiler lays out statically, which nothing ever
    /// destroys, never count). The producer pays nothing for the test.
    /// In debug builds, a worker also says so on standard error the first time
    /// it counts one.
    public var releasedElsewhere: UInt64

    /// Creates a set of counters.
    public init(
        deferred: UInt64 = 0, destroyed: UInt64 = 0, peakPending: UInt64 = 0,
        reclaimedBytes: UInt64? = nil, destroyedInline: UInt64 = 0,
        releasedElsewhere: UInt64 = 0
    ) {
        self.deferred = deferred
        self.destroyedInline = destroyedInline
        self.destroyed = destroyed
        self.peakPending = peakPending
        self.reclaimedBytes = reclaimedBytes
        self.releasedElsewhere = releasedElsewhere
    }
}
