import DeferDrop
import DeferDropTestSupport
import ShardedDrop
import Testing
import _DeferDropShims


@Suite("ShardedDropPool robustness")
struct ShardedDropPoolRobustnessTests {
    @Test("4 producers × 250,000 values into a pool: once each, none on its producer, in order, exact statistics")
    func poolUnderLoad() {
        let pool = ShardedDropPool(shards: 2, name: "load", capacity: .unbounded)
        let log = DestructionLog()
        handOverSequenced(producers: 4, perProducer: 250_000, to: pool, log: log)
        pool.flush()
        #expect(log.checkExactlyOnceInOrder(producers: 4, perProducer: 250_000) == nil)
        #expect(log.onCreatorCount == 0)
        let total = pool.totalStatistics
        #expect(total.deferred == 1_000_000 && total.destroyed == 1_000_000 && total.pending == 0)
        #expect(total.destroyedInline == 0)
        #expect(pool.statistics.map(\.deferred) == [500_000, 500_000])
    }

    @Test("a bounded pool: the bound holds per shard, nothing lost")
    func boundedPool() {
        let pool = ShardedDropPool(shards: 2, name: "bounded", capacity: .bounded(4, whenFull: .block))
        #expect(pool.capacity == .bounded(4, whenFull: .block))
        let log = DestructionLog()
        handOverSequenced(producers: 4, perProducer: 30, slow: true, to: pool, log: log)
        pool.flush()
        #expect(pool.statistics.allSatisfy { $0.peakPending <= 4 })
        #expect(log.checkExactlyOnceInOrder(producers: 4, perProducer: 30) == nil)
        #expect(log.onCreatorCount == 0)
    }

    @Test("priority and drainsAtExit reach every shard")
    func settingsReachEveryShard() {
        let pool = ShardedDropPool(shards: 3, name: "settings", capacity: .unbounded, priority: .idle)
        #expect(pool.priority == .idle)
        // One key per shard, to reach each shard's worker.
        var keys: [Int: Int] = [:]
        for key in 0..<1_000 where keys[pool.shard(for: key)] == nil { keys[pool.shard(for: key)] = key }
        #expect(keys.count == 3)
        for key in keys.values {
            let worker = pool.worker(for: key)
            #expect(worker.priority == .idle)
            #expect(schedulingClassOfThread(destroyingOn: worker) == DropPriority.idle.observedSchedulingClass)
        }
        pool.priority = .normal
        for key in keys.values {
            #expect(pool.worker(for: key).priority == .normal)
        }
        pool.drainsAtExit = false
        #expect(pool.drainsAtExit == false)
        pool.drainsAtExit = true
        #expect(pool.drainsAtExit)
    }

    @Test("exit() drains every shard of a pool")
    func exitDrainsPool() async {
        let path = temporaryPath("exit-pool")
        defer { unlink(path) }
        await #expect(processExitsWith: .success) { [path = path as String] in
            let pool = ShardedDropPool(shards: 2, name: "exit-pool", capacity: .unbounded)
            onThreads(2) { producer in
                for line in 0..<500 {
                    pool.dispose(LineWriter(path: path, line: producer * 1_000 + line))
                }
            }
            exit(0)
        }
        #expect(lineCount(ofFileAt: path) == 1_000)
    }

    @Test("capacity below 1 is refused, naming the value")
    func capacityBelowOne() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = ShardedDropPool(shards: 2, capacity: .bounded(0, whenFull: .destroyInline))
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("ShardedDropPool(capacity: .bounded(0, …)): the capacity must be at least 1"))
    }
}
