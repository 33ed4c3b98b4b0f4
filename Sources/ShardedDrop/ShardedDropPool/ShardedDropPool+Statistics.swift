public import DeferDrop

extension ShardedDropPool {
    /// Each shard's counters, in shard order: one `DropStatistics` per shard.
    ///
    /// Each entry is a consistent snapshot of its shard; the shards are read one
    /// after another, not at one instant. After `flush()`, with no hand-offs
    /// racing it, every entry is exact. ``totalStatistics`` adds them up.
    public var statistics: [DropStatistics] {
        _workers.map(\.statistics)
    }

    /// The counters of every shard added up, with `DropStatistics.combined(with:)`.
    ///
    /// Its `peakPending` is the largest of the shards' peaks: the shards peak at
    /// different moments, so their sum would overstate what was ever pending at
    /// once. Its `reclaimedBytes` is the sum, or `nil` if no shard measures it.
    public var totalStatistics: DropStatistics {
        statistics.reduce(DropStatistics()) { $0.combined(with: $1) }
    }
}
