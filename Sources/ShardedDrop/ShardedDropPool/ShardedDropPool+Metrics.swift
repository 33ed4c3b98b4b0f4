#if Metrics
public import CoreMetrics
public import DeferDrop

extension ShardedDropPool {
    /// Creates a pool whose shards report their metrics to `metricsFactory`.
    ///
    /// With the package trait `Metrics`, every shard reports as a `DropWorker`
    /// does (see `DropWorker.init(name:capacity:priority:metricsFactory:)` for
    /// the labels), its `worker` dimension carrying the shard's name,
    /// `"\(name)-\(i)"`. A pool made without this argument reports to
    /// `MetricsSystem.factory`, as it stands when each shard's first value
    /// arrives. Shards publish from their own threads, once per batch: a
    /// hand-off costs the same with metrics as without.
    ///
    /// - Parameters:
    ///   - shards: How many workers, from 1 to ``maximumShardCount``.
    ///   - name: Names the pool and, with an index, its threads and the
    ///     `worker` dimension. Must not be empty and must not contain a NUL
    ///     character.
    ///   - capacity: How many values may wait on *each* shard.
    ///   - priority: The shards' scheduling class.
    ///   - metricsFactory: Makes every shard's metrics, on its first value.
    public convenience init(
        shards: Int = ShardedDropPool.defaultShardCount, name: String = "defer-drop",
        capacity: DropCapacity = .default, priority: DropPriority,
        metricsFactory: any MetricsFactory
    ) {
        self.init(shards: shards, name: name, capacity: capacity, priority: priority, metrics: .factory(metricsFactory))
    }

    /// Creates a pool whose every shard reports to `metricsFactory`, running
    /// at its capacity's `DropCapacity.defaultPriority`: see
    /// ``init(shards:name:capacity:priority:metricsFactory:)``.
    public convenience init(
        shards: Int = ShardedDropPool.defaultShardCount, name: String = "defer-drop",
        capacity: DropCapacity = .default, metricsFactory: any MetricsFactory
    ) {
        self.init(shards: shards, name: name, capacity: capacity, priority: nil, metrics: .factory(metricsFactory))
    }
}
#endif
