/// A worker's counts, in one vocabulary from its pass to `statistics` and
/// its metrics: the totals under the queue's lock (`State.counts`), and what
/// the worker destroyed since it last added to them (its pass's).
///
/// `DropStatistics` adds what the producers count without the lock
/// (`destroyedInline`) and the values still in lanes.
struct _Counts: Sendable {
    /// Values queued: collected from the lanes.
    var queued: UInt64 = 0
    /// Of those, the ones destroyed, by the worker or a producer's drain,
    /// oldest first: what a barrier waits for.
    var destroyedFromQueue: UInt64 = 0
    /// Values the worker destroyed in place, handed over by destructors it
    /// was running: never queued.
    var destroyedInPlace: UInt64 = 0
    /// Of `destroyedFromQueue`, the ones producers drained for a worker
    /// that was behind.
    var drainedByProducers: UInt64 = 0
    /// Values released while a reference to them was still held elsewhere.
    var releasedElsewhere: UInt64 = 0
    /// The most values queued and not yet destroyed at once.
    var peakPending: UInt64 = 0
    /// The bytes the worker's thread has freed in all, a running total;
    /// `nil` where the allocator cannot tell.
    var reclaimedBytes: UInt64?

    /// Values that reached the worker: queued, or destroyed in place.
    var deferred: UInt64 { queued + destroyedInPlace }
    /// Of those, the ones destroyed.
    var destroyed: UInt64 { destroyedFromQueue + destroyedInPlace }
    /// Values queued and not yet destroyed, those in hand included.
    var pending: UInt64 { queued - destroyedFromQueue }

    /// Counts `count` more values queued.
    mutating func addQueued(_ count: UInt64) {
        queued += count
        peakPending = max(peakPending, pending)
    }

    /// Adds what a pass destroyed to these totals.
    mutating func add(_ pass: _Counts) {
        destroyedFromQueue += pass.destroyedFromQueue
        destroyedInPlace += pass.destroyedInPlace
        drainedByProducers += pass.drainedByProducers
        releasedElsewhere += pass.releasedElsewhere
        if let bytes = pass.reclaimedBytes { reclaimedBytes = bytes }
    }
}
