/// Counters of one worker: what it was given and how far it has got.
///
/// ``DropWorker/statistics`` reads a consistent snapshot, in which ``destroyed``
/// may lag while the worker is busy; after `flush()`, with no hand-offs racing
/// it, ``deferred`` equals ``destroyed``. Add workers' with ``combined(with:)``.
public struct DropStatistics: Sendable, Hashable {
    /// Values handed to this worker, those destroyed inline included, and those
    /// a destructor on the worker handed to it.
    public var deferred: UInt64

    /// Values whose destruction has finished, on the worker's thread or inline.
    public var destroyed: UInt64

    /// Values handed over and not yet destroyed: `deferred - destroyed`, or 0.
    public var pending: UInt64 { deferred >= destroyed ? deferred - destroyed : 0 }

    /// Of ``destroyed``, the values destroyed on a producer's thread, not the
    /// worker's: after ``DropWorker/shutdown()``, under
    /// ``OverflowPolicy/destroyInline``, by a destructor on another worker that
    /// found this one full, or while a time-bounded worker was behind (a
    /// producer's own value, or queued ones it took, perhaps another's).
    public var destroyedInline: UInt64

    /// The largest ``pending`` has been, as seen at each hand-off.
    public var peakPending: UInt64

    /// Bytes the worker's own thread has freed, exact after `flush()`, in
    /// jemalloc's usable (size-class) bytes; `nil` without the package trait
    /// `Jemalloc`. Values destroyed inline, on producers, are not counted.
    public var reclaimedBytes: UInt64?

    /// Of ``destroyed``, the values the worker released while a reference to
    /// them was held elsewhere, so they were destroyed where that one ended:
    /// most often on the producer's thread, after a hand-off without `consume`.
    /// Checked for class instances and contiguous arrays' buffers (on Linux also
    /// `Array`, `Dictionary` and `Set`); a debug build reports the first one.
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
