/// A worker's counts: the totals under the queue's lock (`State.counts`), or
/// what a pass destroyed since it last added to them. `DropStatistics` adds
/// what producers count without the lock and the values still in lanes.
struct _Counts: Sendable {
    /// Values collected from the lanes.
    var queued: UInt64 = 0
    /// Of those, the ones destroyed, oldest first: what a barrier waits for.
    var destroyedFromQueue: UInt64 = 0
    /// Values destroyed in place, handed over by destructors the worker ran.
    var destroyedInPlace: UInt64 = 0
    /// Of `destroyedFromQueue`, the ones producers drained for a worker behind.
    var drainedByProducers: UInt64 = 0
    var releasedElsewhere: UInt64 = 0
    var peakPending: UInt64 = 0
    /// What the worker's thread has freed, a running total; `nil` where unknown.
    var reclaimedBytes: UInt64?

    var deferred: UInt64 { queued + destroyedInPlace }
    var destroyed: UInt64 { destroyedFromQueue + destroyedInPlace }
    /// Queued and not yet destroyed, those in the worker's hand included.
    var pending: UInt64 { queued - destroyedFromQueue }

    mutating func addQueued(_ count: UInt64) {
        queued += count
        peakPending = max(peakPending, pending)
    }

    mutating func add(_ pass: _Counts) {
        destroyedFromQueue += pass.destroyedFromQueue
        destroyedInPlace += pass.destroyedInPlace
        drainedByProducers += pass.drainedByProducers
        releasedElsewhere += pass.releasedElsewhere
        if let bytes = pass.reclaimedBytes { reclaimedBytes = bytes }
    }
}
