extension DropStatistics {
    /// The counters of two workers added up. ``peakPending`` is the larger
    /// peak, since workers peak at different moments; ``reclaimedBytes`` sums
    /// the known values, and is `nil` when neither side knows.
    public func combined(with other: DropStatistics) -> DropStatistics {
        // Every label given, so that a new counter's default stands out here.
        DropStatistics(
            deferred: deferred + other.deferred,
            destroyed: destroyed + other.destroyed,
            peakPending: max(peakPending, other.peakPending),
            reclaimedBytes: reclaimedBytes.map { $0 + (other.reclaimedBytes ?? 0) } ?? other.reclaimedBytes,
            destroyedInline: destroyedInline + other.destroyedInline,
            releasedElsewhere: releasedElsewhere + other.releasedElsewhere)
    }
}
