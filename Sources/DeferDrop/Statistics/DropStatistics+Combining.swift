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
            reclaimedBytes: Self.sum(reclaimedBytes, other.reclaimedBytes),
            destroyedInline: destroyedInline + other.destroyedInline,
            releasedElsewhere: releasedElsewhere + other.releasedElsewhere)
    }

    private static func sum(_ left: UInt64?, _ right: UInt64?) -> UInt64? {
        switch (left, right) {
        case (nil, nil): nil
        case (let value?, nil), (nil, let value?): value
        case (let left?, let right?): left + right
        }
    }
}
