extension DropStatistics {
    /// The counters of two workers added up: how to total several workers, or
    /// a pool's shards.
    ///
    /// Every count is summed. ``peakPending`` is the larger of the two peaks:
    /// workers peak at different moments, so a sum would overstate what was
    /// ever pending at once. ``reclaimedBytes`` is the sum of the known values,
    /// or `nil` when neither side measures bytes.
    ///
    /// ```swift
    /// let total = workers.map(\.statistics).reduce(DropStatistics()) { $0.combined(with: $1) }
    /// ```
    public func combined(with other: DropStatistics) -> DropStatistics {
        // Built through the memberwise initializer with every label, so that a
        // new counter shows up here as a missing argument's default.
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
