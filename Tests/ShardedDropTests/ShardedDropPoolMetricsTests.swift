#if Metrics
import DeferDrop
import DeferDropTestSupport
import MetricsTestKit
import ShardedDrop
import Testing

@Suite("ShardedDropPool metrics (trait Metrics)")
struct ShardedDropPoolMetricsTests {
    @Test("each shard reports under its own name; the shards' counters add up to the pool's statistics")
    func perShard() throws {
        let factory = TestMetrics()
        let pool = ShardedDropPool(shards: 2, name: "metered-pool", capacity: .unbounded, metricsFactory: factory)
        let log = DestructionLog()
        handOverSequenced(producers: 4, perProducer: 5_000, to: pool, log: log)
        pool.flush()
        #expect(log.checkExactlyOnceInOrder(producers: 4, perProducer: 5_000) == nil)
        var deferred: Int64 = 0
        var destroyed: Int64 = 0
        for shard in 0..<2 {
            let dimensions = [("worker", "metered-pool-\(shard)")]
            let shardDeferred = try factory.expectCounter("deferdrop_values_deferred_total", dimensions).totalValue
            #expect(shardDeferred > 0, "4 producer threads are pinned to both shards")
            deferred += shardDeferred
            destroyed += try factory.expectCounter("deferdrop_values_destroyed_total", dimensions).totalValue
            #expect(try factory.expectGauge("deferdrop_values_pending", dimensions).lastValue == 0)
        }
        #expect(deferred == 20_000)
        #expect(destroyed == Int64(pool.totalStatistics.destroyed))
        #expect(factory.counters(label: "deferdrop_values_deferred_total").count == 2, "one counter per shard, no more")
        pool.shutdown()
    }
}
#endif
