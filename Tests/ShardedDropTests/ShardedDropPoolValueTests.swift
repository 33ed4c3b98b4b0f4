import DeferDrop
import DeferDropTestSupport
import ShardedDrop
import Testing

@Suite("ShardedDropPool: nesting, totals, graceful shutdown")
struct ShardedDropPoolValueTests {
    @Test("the crate's nested wrappers on a pool: destroyed in place on one shard, depth first")
    func crateOrderOnAPool() {
        let pool = ShardedDropPool(shards: 2, name: "crate-pool")
        let record = _Lock<[Int]>([])
        let value = DropOrderRecorder.crateTree(record: record, on: pool)
        _ = consume value
        pool.flush()
        #expect(record.withLock { $0 } == [0, 1, 2, 3, 4, 5, 6])
        let total = pool.totalStatistics
        #expect(total.deferred == 7 && total.destroyed == 7 && total.destroyedInline == 0)
        #expect(pool.statistics.filter { $0.deferred > 0 }.count == 1, "every nested value stayed on the shard")
    }

    @Test("totalStatistics after a shutdown adds up destroyedInline, and matches combining the shards")
    func totalAfterShutdown() {
        let pool = ShardedDropPool(shards: 3, name: "total", capacity: .unbounded)
        let log = DestructionLog()
        handOverSequenced(producers: 3, perProducer: 1_000, to: pool, log: log)
        pool.shutdown()
        handOverSequenced(producers: 3, perProducer: 10, to: pool, log: log)
        let total = pool.totalStatistics
        #expect(total.deferred == 3_030 && total.destroyed == 3_030 && total.pending == 0)
        #expect(total.destroyedInline == 30, "values handed over after the shutdown were destroyed inline")
        #expect(total == pool.statistics.reduce(DropStatistics()) { $0.combined(with: $1) })
        #expect(log.count == 3_030)
    }

    @Test("shutdownGracefully() from 8 tasks at once: every shard drained, each task returns after it")
    func gracefulFromManyTasks() async {
        let pool = ShardedDropPool(shards: 2, name: "graceful-pool", capacity: .unbounded)
        let log = DestructionLog()
        handOverSequenced(producers: 4, perProducer: 100, slow: true, to: pool, log: log)
        await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    await pool.shutdownGracefully()
                    return log.count
                }
            }
            for await seen in group {
                #expect(seen == 400, "a task returned before every shard had drained")
            }
        }
        #expect(log.checkExactlyOnceInOrder(producers: 4, perProducer: 100) == nil)
        #expect(pool.totalStatistics.destroyedInline == 0)
    }
}
