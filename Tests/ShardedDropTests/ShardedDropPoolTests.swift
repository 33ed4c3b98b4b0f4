import DeferDrop
import DeferDropTestSupport
import ShardedDrop
import Testing

@Suite("ShardedDropPool")
struct ShardedDropPoolTests {
    @Test("8 producers × 50,000 values into 3 shards with the default capacity: each destroyed once, off its producer, in its producer's order")
    func orderPerProducerUnderLoad() {
        let pool = ShardedDropPool(shards: 3, name: "order")
        #expect(pool.capacity == .unbounded && pool.priority == .batch)
        let log = DestructionLog()
        handOverSequenced(producers: 8, perProducer: 50_000, together: true, to: pool, log: log)
        pool.flush()
        #expect(log.count == 400_000)
        #expect(log.onCreatorCount == 0)
        #expect(log.checkExactlyOnceInOrder(producers: 8, perProducer: 50_000) == nil)

        // Each producer's values were all destroyed by one thread, its shard's;
        // all three shards took part.
        let destroyers = Dictionary(grouping: log.all, by: \.producer).mapValues { Set($0.map(\.thread)) }
        #expect(destroyers.values.allSatisfy { $0.count == 1 }, "a producer's values were spread over several threads")
        #expect(log.threads.count == 3)

        let statistics = pool.statistics
        #expect(statistics.count == 3)
        #expect(statistics.map(\.deferred).reduce(0, +) == 400_000)
        #expect(statistics.allSatisfy { $0.deferred == $0.destroyed && $0.pending == 0 })
        // 8 threads over 3 shards, least-loaded first: 3, 3 and 2 producers.
        #expect(statistics.map(\.deferred).sorted() == [100_000, 150_000, 150_000])
        #expect(pool.totalStatistics.destroyed == 400_000)
        // The producers have exited, and with them their pins.
        #expect(pool.pinnedThreadCounts == [0, 0, 0])
    }

    @Test("4 live threads on 4 shards: distinct shards, each stable, and each thread's values on its own shard")
    func pinningIsStableAndDistinct() {
        let pool = ShardedDropPool(shards: 4, name: "pins", capacity: .unbounded)
        let log = DestructionLog()
        let shards = _Lock<[Int: Int]>([:])
        let pinned = Signal()
        let allPinned = _Lock(0)
        onThreads(4) { producer in
            let first = pool.currentThreadShard
            // Keep every thread alive until all four are pinned, so that none
            // can hand its place to another.
            if allPinned.withLock({ $0 += 1; return $0 }) == 4 { pinned.raise() }
            // One thread waits for the signal and passes it on: a relay.
            #expect(pinned.wait(seconds: 30), "the four threads were not all pinned within 30 s")
            pinned.raise()
            for sequence in 0..<(1_000 * (producer + 1)) {
                pool.dispose(Probe(log, producer: producer, sequence: sequence))
                #expect(pool.currentThreadShard == first)
            }
            shards.withLock { $0[producer] = first }
        }
        pool.flush()
        let shardOf = shards.withLock { $0 }
        #expect(Set(shardOf.values) == [0, 1, 2, 3], "pinned shards: \(shardOf)")
        let statistics = pool.statistics
        for (producer, shard) in shardOf {
            #expect(statistics[shard].deferred == UInt64(1_000 * (producer + 1)), "producer \(producer) on shard \(shard)")
        }
        #expect(log.onCreatorCount == 0)
    }

    @Test("pinning follows the thread, not a recycled thread id: threads that exit give their shard back")
    func pinningFollowsTheThread() {
        let pool = ShardedDropPool(shards: 4, name: "recycle", capacity: .unbounded)
        // One thread after another: each has exited before the next starts, so
        // the system may well give the next one the same pthread_t.
        var observed: [(thread: UInt, shard: Int)] = []
        for _ in 0..<8 {
            observed.append(onNewThread { (currentThread(), pool.currentThreadShard) })
            #expect(pool.pinnedThreadCounts == [0, 0, 0, 0], "an exited thread is still counted")
        }
        // (With glibc, all eight threads usually get the same pthread_t.)
        // Every new thread is pinned afresh, to the next shard round-robin.
        // A table keyed by thread id would give a recycled id its old shard.
        #expect(observed.map(\.shard) == [0, 1, 2, 3, 0, 1, 2, 3])
        // The main thread is pinned like any other, and it stays pinned.
        let main = pool.currentThreadShard
        #expect(pool.pinnedThreadCounts.reduce(0, +) == 1)
        #expect(pool.pinnedThreadCounts[main] == 1)
    }

    @Test("a thread feeding several pools keeps one pin in each, also after another pool is gone")
    func severalPools() {
        let a = ShardedDropPool(shards: 3, name: "a", capacity: .unbounded)
        let b = ShardedDropPool(shards: 3, name: "b", capacity: .unbounded)
        _ = onNewThread { b.currentThreadShard }  // b's next new thread goes to shard 1
        let log = DestructionLog()
        let (shardInA, shardInB) = onNewThread {
            do {
                // A pool this thread used and that is gone by the next pin.
                let gone = ShardedDropPool(shards: 2, name: "gone", capacity: .unbounded)
                gone.dispose(Probe(log, producer: 2, sequence: 0))
                gone.flush()
            }
            let inA = a.currentThreadShard
            let inB = b.currentThreadShard
            for sequence in 0..<1_000 {
                a.dispose(Probe(log, producer: 0, sequence: sequence))
                b.dispose(Probe(log, producer: 1, sequence: sequence))
                #expect(a.currentThreadShard == inA)
                #expect(b.currentThreadShard == inB)
            }
            return (inA, inB)
        }
        #expect(shardInA == 0)
        #expect(shardInB == 1)
        a.flush()
        b.flush()
        #expect(a.statistics.map(\.deferred) == [1_000, 0, 0])
        #expect(b.statistics.map(\.deferred) == [0, 1_000, 0])
        #expect(log.count == 2_001)
        #expect(log.onCreatorCount == 0)
    }

    @Test("worker(for:) keeps one key's values in order across 4 threads")
    func keyedOrderAcrossThreads() {
        let pool = ShardedDropPool(shards: 4, name: "keyed", capacity: .unbounded)
        let log = DestructionLog()
        let next = _Lock(0)
        onThreads(4) { _ in
            for _ in 0..<10_000 {
                // Number the value and hand it over under one lock, so the
                // numbers give the order in which the hand-offs happened.
                next.withLock { sequence in
                    pool.worker(for: "connection-7").dispose(Probe(log, producer: 0, sequence: sequence))
                    sequence += 1
                }
            }
        }
        pool.flush()
        #expect(log.checkExactlyOnceInOrder(producers: 1, perProducer: 40_000) == nil)
        #expect(log.threads.count == 1)
        #expect(log.onCreatorCount == 0)
    }

    @Test("equal keys get the same worker for the pool's life; keys spread over the shards")
    func keysMapToWorkers() {
        let pool = ShardedDropPool(shards: 4, name: "keys", capacity: .unbounded)
        #expect(pool.worker(for: "a") === pool.worker(for: "a"))
        #expect(pool.worker(for: 42) === pool.worker(for: 42))
        #expect(pool.shard(for: "a") == pool.shard(for: String("a")))
        let used = Set((0..<64).map { pool.shard(for: "key-\($0)") })
        #expect(used.count > 1, "64 keys all went to one shard")
        #expect(used.allSatisfy { (0..<4).contains($0) })
        #expect(pool.worker(for: "a").name == "keys-\(pool.shard(for: "a"))")
    }

    @Test("a task that hops threads keeps its order through worker(for:)")
    func keyedOrderAcrossAwaits() async {
        let pool = ShardedDropPool(shards: 4, name: "tasks", capacity: .unbounded)
        let log = DestructionLog()
        await withTaskGroup(of: Void.self) { group in
            for producer in 0..<8 {
                group.addTask {
                    let worker = pool.worker(for: producer)
                    for sequence in 0..<2_000 {
                        worker.dispose(Probe(log, producer: producer, sequence: sequence))
                        if sequence % 100 == 0 { await Task.yield() }
                    }
                }
            }
        }
        await pool.flush()
        #expect(log.checkExactlyOnceInOrder(producers: 8, perProducer: 2_000) == nil)
    }

    @Test("shard threads are named <name>-<index>, a long name shortened before the index")
    func threadNames() {
        func key(for shard: Int, in pool: ShardedDropPool) -> Int {
            (0...).first { pool.shard(for: $0) == shard }!
        }
        let pool = ShardedDropPool(shards: 4, name: "names", capacity: .unbounded)
        for shard in 0..<4 {
            let worker = pool.worker(for: key(for: shard, in: pool))
            #expect(worker.name == "names-\(shard)")
            #expect(nameOfThread(destroyingOn: worker) == "names-\(shard)")
        }

        let long = ShardedDropPool(shards: 12, name: "a-rather-long-pool-name", capacity: .unbounded)
        let third = long.worker(for: key(for: 3, in: long))
        #expect(third.name == "a-rather-long-pool-name-3")
        #expect(nameOfThread(destroyingOn: third) == "a-rather-long-3")
        #expect(nameOfThread(destroyingOn: long.worker(for: key(for: 11, in: long))) == "a-rather-lon-11")

        #expect(ShardedDropPool(shards: 1, capacity: .unbounded).name == "defer-drop")
        let defaultNamed = ShardedDropPool(shards: 2, capacity: .unbounded)
        #expect(nameOfThread(destroyingOn: defaultNamed.worker(for: key(for: 1, in: defaultNamed))) == "defer-drop-1")
    }

    @Test("flush() waits for every shard")
    func flushIsABarrierAcrossShards() {
        let pool = ShardedDropPool(shards: 3, name: "barrier", capacity: .unbounded)
        let log = DestructionLog()
        for round in 1...10 {
            handOverSequenced(producers: 6, perProducer: 2_000, to: pool, log: log)
            pool.flush()
            #expect(log.count == round * 12_000, "round \(round): flush returned before every shard was done")
            #expect(pool.statistics.allSatisfy { $0.pending == 0 })
        }
    }

    @Test("a destructor running on a shard hands its values to the same shard, and flush() covers them")
    func nestedHandoffsStayOnTheShard() {
        final class Link {
            let pool: ShardedDropPool
            let log: DestructionLog
            let depth: Int
            let creator = currentThread()
            init(pool: ShardedDropPool, log: DestructionLog, depth: Int) {
                self.pool = pool
                self.log = log
                self.depth = depth
            }
            deinit {
                log.recordDestruction(sequence: depth, creator: creator)
                if depth < 1_000 {
                    pool.dispose(Link(pool: pool, log: log, depth: depth + 1))
                }
            }
        }
        let pool = ShardedDropPool(shards: 4, name: "nested", capacity: .unbounded)
        let log = DestructionLog()
        pool.dispose(Link(pool: pool, log: log, depth: 0))
        pool.flush()
        #expect(log.count == 1_001)
        #expect(log.threads.count == 1, "a nested value went to another shard")
        #expect(log.checkExactlyOnceInOrder(producers: 1, perProducer: 1_001) == nil)
        // The shard's own thread was pinned to its shard without counting as a producer.
        #expect(pool.pinnedThreadCounts.reduce(0, +) == 1)
    }

    @Test("shutdown() while 4 threads hand values over: nothing lost, nothing destroyed twice, order kept")
    func shutdownWithValuesInFlight() {
        let pool = ShardedDropPool(shards: 3, name: "shutdown", capacity: .unbounded)
        let log = DestructionLog()
        let started = _Lock(0)
        let allStarted = Signal()
        onThreads(5) { thread in
            if thread == 4 {
                // Shut down once every producer is under way.
                #expect(allStarted.wait(seconds: 30), "the producers did not start within 30 s")
                pool.shutdown()
                return
            }
            for sequence in 0..<50_000 {
                pool.dispose(Probe(log, producer: thread, sequence: sequence))
                if sequence == 1_000, started.withLock({ $0 += 1; return $0 }) == 4 {
                    allStarted.raise()
                }
            }
        }
        #expect(log.count == 200_000)
        #expect(log.checkExactlyOnceInOrder(producers: 4, perProducer: 50_000) == nil)
        let total = pool.totalStatistics
        #expect(total.deferred == 200_000)
        #expect(total.destroyed == 200_000)
        #expect(total.pending == 0)

        // After shutdown, values are destroyed inline, by their producer.
        let after = DestructionLog()
        pool.dispose(Probe(after))
        #expect(after.count == 1)
        #expect(after.onCreatorCount == 1)
        pool.shutdown()  // again: returns at once
    }

    @Test("DeferDrop and deferDrop take a pool")
    func wrapperAndFunction() {
        let pool = ShardedDropPool(shards: 2, name: "wrap", capacity: .unbounded)
        let log = DestructionLog()
        do {
            let wrapped = DeferDrop(Probe(log, sequence: 0), on: pool)
            #expect(wrapped.value.sequence == 0)
        }
        deferDrop(Probe(log, producer: 0, sequence: 1), on: pool)
        deferDrop(UniqueProbe(log, payload: []), on: pool)
        pool.flush()
        #expect(log.count == 3)
        #expect(log.onCreatorCount == 0)
        #expect(log.threads.count == 1, "one thread's values went to more than one shard")
    }

    @Test("the same producers and a pool with the server's capacity: each shard bounded in time")
    func outrunningTheServerPool() {
        let pool = ShardedDropPool(shards: 2, name: "server-pool", capacity: .server)
        #expect(pool.capacity == .server && pool.priority == .idle)
        let log = DestructionLog()
        outrunSlowly(pool, log: log)
        pool.flush()
        #expect(log.timeBoundProblem(after: pool.totalStatistics) == nil)
        for shard in pool.statistics {
            #expect(shard.peakPending <= 400, "peak pending \(shard.peakPending) on a shard")
        }
    }

    @Test("the default shard count is the processors available, from 1 to 1024")
    func defaultShardCount() {
        #expect((1...ShardedDropPool.maximumShardCount).contains(ShardedDropPool.defaultShardCount))
        #expect(ShardedDropPool(capacity: .unbounded).shardCount == ShardedDropPool.defaultShardCount)
        #expect(ShardedDropPool(shards: 1024, name: "wide", capacity: .unbounded).shardCount == 1024)
    }
}

@Suite("ShardedDropPool preconditions")
struct ShardedDropPoolPreconditionTests {
    @Test("zero shards is refused with a message naming the value")
    func zeroShards() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = ShardedDropPool(shards: 0)
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("ShardedDropPool(shards: 0)"))
        #expect(message.contains("at least one shard"))
    }

    @Test("an absurd shard count is refused with a message naming the value")
    func absurdShards() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = ShardedDropPool(shards: 1_000_000)
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("ShardedDropPool(shards: 1000000)"))
        #expect(message.contains("at most 1024"))
    }

    @Test("an empty pool name is refused")
    func emptyName() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = ShardedDropPool(shards: 2, name: "")
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("ShardedDropPool(name: \"\")"))
    }
}
