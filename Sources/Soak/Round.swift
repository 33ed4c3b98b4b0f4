import DeferDrop
import DeferDropTestSupport
import Dispatch
import ShardedDrop
import Synchronization


/// A round's disposer, and what the soak asks of it besides hand-offs.
struct RoundTarget: Sendable {
    let disposer: any Disposer
    let flush: @Sendable () -> Void
    let flushWithTimeout: @Sendable (Duration) -> Bool
    let flushAsync: @Sendable () async -> Void
    /// `nil` for the shared worker, which the soak never stops.
    let shutdown: (@Sendable () -> Void)?
    let shutdownGracefully: (@Sendable () async -> Void)?
    /// Each worker's statistics (one, or one per shard).
    let statistics: @Sendable () -> [DropStatistics]
    /// Sets the capacity of the worker, or of every shard.
    let setCapacity: @Sendable (DropCapacity) -> Void
    /// Whether a barrier covers the values that the destructors of the values
    /// it covers hand over: a worker's does; a pool's flushes its shards one
    /// after another, so a value handed to a shard already flushed is not.
    let barrierCoversNested: Bool

    static func make(_ scenario: Scenario, round: Int) -> RoundTarget {
        switch scenario.target {
        case .shared:
            return .worker(DropWorker.shared, stoppable: false)
        case .worker(let capacity, let priority):
            return .worker(DropWorker(name: "soak-\(round)", capacity: capacity, priority: priority), stoppable: true)
        case .pool(let shards, let capacity):
            let pool = ShardedDropPool(shards: shards, name: "soak", capacity: capacity)
            return RoundTarget(
                disposer: pool, flush: { pool.flush() }, flushWithTimeout: { pool.flush(timeout: $0) },
                flushAsync: { await pool.flush() }, shutdown: { pool.shutdown() },
                shutdownGracefully: { await pool.shutdownGracefully() }, statistics: { pool.statistics },
                setCapacity: { pool.capacity = $0 }, barrierCoversNested: false)
        }
    }

    private static func worker(_ worker: DropWorker, stoppable: Bool) -> RoundTarget {
        var shutdown: (@Sendable () -> Void)?
        var shutdownGracefully: (@Sendable () async -> Void)?
        if stoppable {
            shutdown = { @Sendable in worker.shutdown() }
            shutdownGracefully = { @Sendable in await worker.shutdownGracefully() }
        }
        return RoundTarget(
            disposer: worker, flush: { worker.flush() }, flushWithTimeout: { worker.flush(timeout: $0) },
            flushAsync: { await worker.flush() }, shutdown: shutdown, shutdownGracefully: shutdownGracefully,
            statistics: { [worker.statistics] }, setCapacity: { worker.capacity = $0 }, barrierCoversNested: true)
    }
}

/// How long any one wait of the soak may take before it counts as a hang.
let hangLimit = Duration.seconds(120)

/// Runs `body` in a task and waits for it, for at most `hangLimit`.
func waitForTask(_ body: @escaping @Sendable () async -> Void) -> Bool {
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        await body()
        done.signal()
    }
    return done.wait(timeout: .now() + .seconds(Int(hangLimit.components.seconds))) == .success
}

/// Runs one round; returns the first broken invariant, or `nil`.
func runRound(_ scenario: Scenario, round: Int, random: inout SoakRandom) -> String? {
    let ledger = Ledger(
        producers: scenario.producers, valuesPerProducer: scenario.valuesPerProducer, strict: scenario.isStrict)
    let target = RoundTarget.make(scenario, round: round)
    let before = target.statistics().reduce(DropStatistics()) { $0.combined(with: $1) }
    let seeds = (0..<scenario.producers).map { _ in random.next() }
    let producersDone = Atomic<Int>(0)
    var threads = seeds.enumerated().map { index, seed in
        _Thread {
            produce(scenario, index: index, seed: seed, ledger: ledger, target: target)
            producersDone.add(1, ordering: .releasing)
        }
    }
    var stopped = false
    if let shutdownAfter = scenario.shutdownAfter, let shutdown = target.shutdown {
        let graceful = random.chance(0.3) ? target.shutdownGracefully : nil
        threads.append(
            _Thread {
                // Until that many hand-offs have returned, or every producer is done.
                while ledger.handedCounts().reduce(0, +) < shutdownAfter,
                    producersDone.load(ordering: .acquiring) < scenario.producers
                {
                    sched_yield()
                }
                ledger.shutdownCalled.store(true, ordering: .sequentiallyConsistent)
                let handed = ledger.handedCounts()
                if let graceful {
                    if !waitForTask(graceful) { ledger.fail("shutdownGracefully() did not return in \(hangLimit)") }
                } else {
                    shutdown()
                }
                ledger.checkDestroyed(upTo: handed, nested: true, after: "shutdown()")
            })
        stopped = true
    }
    if scenario.switchesCapacity {
        // Every policy in turn, at random, until every producer is done.
        let seed = random.next()
        threads.append(
            _Thread {
                var random = SoakRandom(seed: seed)
                while producersDone.load(ordering: .acquiring) < scenario.producers, ledger.problem == nil {
                    target.setCapacity(Scenario.randomCapacity(using: &random))
                    usleep(UInt32.random(in: 50...500, using: &random))
                }
            })
    }
    if scenario.forks > 0 {
        // Each fork after a random number of hand-offs in all, or once every producer is done.
        let total = scenario.producers * scenario.valuesPerProducer
        let forkAfter = (0..<scenario.forks).map { _ in Int.random(in: 0...total, using: &random) }.sorted()
        let learning = Atomic<Bool>(true)
        threads.append(_Thread { findConformancesOfNewTypes { learning.load(ordering: .relaxed) } })
        threads.append(
            _Thread {
                defer { learning.store(false, ordering: .relaxed) }
                for (index, after) in forkAfter.enumerated() {
                    while ledger.handedCounts().reduce(0, +) < after,
                        producersDone.load(ordering: .acquiring) < scenario.producers
                    {
                        sched_yield()
                    }
                    let label = "round \(round), fork \(index + 1)"
                    if let story = forkAndCheck(label, target: target, strict: scenario.isStrict, ledger: ledger) {
                        ledger.fail("a fork child failed. \(story)")
                        return
                    }
                }
            })
    }
    for thread in threads { thread.join() }
    if let problem = ledger.problem { return problem }

    // Every value: destroyed exactly once, its nested value too, its completion run once.
    if !stopped {
        target.flush()
        // A pool's second flush covers what its shards' destructors handed to shards flushed before.
        if !target.barrierCoversNested { target.flush() }
    }
    ledger.checkDestroyed(upTo: ledger.handedCounts(), nested: true, after: stopped ? "shutdown()" : "the last flush()")
    for producer in ledger.producers {
        if let missing = producer.firstMissingCompletion() {
            ledger.fail("the completion of value \(producer.index)/\(missing) did not run exactly once")
        }
    }
    if let problem = ledger.problem { return problem }

    // The statistics agree with what the values saw.
    let shards = target.statistics()
    let after = shards.reduce(DropStatistics()) { $0.combined(with: $1) }
    let deferred = after.deferred - before.deferred
    let destroyed = after.destroyed - before.destroyed
    let inline = after.destroyedInline - before.destroyedInline
    let expected = ledger.producers.reduce(0) { $0 + $1.handedOverIncludingNested }
    let onProducers = ledger.destroyedOnProducerThreads()
    if deferred != UInt64(expected) {
        return "statistics: \(deferred) values deferred, but \(expected) were handed over"
    }
    if destroyed != deferred {
        return "statistics: \(destroyed) destroyed of \(deferred) deferred, after the last barrier"
    }
    if inline != UInt64(onProducers) {
        return "statistics: \(inline) destroyed inline, but \(onProducers) destructions ran on producer threads"
    }
    if let bound = scenario.bound, let peak = shards.map(\.peakPending).max(), peak > UInt64(bound) {
        return "statistics: peakPending \(peak) above the bound of \(bound)"
    }
    return nil
}

/// One producer thread's hand-offs, flushes and checks.
private func produce(_ scenario: Scenario, index: Int, seed: UInt64, ledger: Ledger, target: RoundTarget) {
    let record = ledger.producers[index]
    record.thread.store(currentThread(), ordering: .releasing)
    defer { record.thread.store(0, ordering: .releasing) }
    var random = SoakRandom(seed: seed)
    for sequence in 0..<scenario.valuesPerProducer {
        let hasNested = random.chance(scenario.nestedChance)
        let style = Int.random(in: 0..<4, using: &random)
        record.willHandOver(sequence, nested: hasNested, completion: style == 3)
        let origin = ValueOrigin(producer: record, ledger: ledger, sequence: sequence)
        let value = Tracked(
            origin, slowNanoseconds: random.chance(scenario.slowChance) ? scenario.slowNanoseconds : 0,
            nested: hasNested ? Nested(origin) : nil, disposer: hasNested ? target.disposer : nil)
        // `consume`, and no other reference to the value or its nested
        // value in a local: a copy left behind would be released after the
        // hand-off, and if the worker had already released its reference,
        // that release would destroy the value here, on the producer.
        switch style {
        case 0:
            target.disposer.dispose(consume value)
        case 1:
            deferDrop([consume value], on: target.disposer)
        case 2:
            let wrapper = DeferDrop(consume value, on: target.disposer)
            _ = consume wrapper
        default:
            deferDrop(consume value, on: target.disposer) { record.recordCompletion(sequence, ledger: ledger) }
        }
        if ledger.strict, record.wasDestroyedOnProducer(sequence),
            !ledger.shutdownCalled.load(ordering: .sequentiallyConsistent)
        {
            ledger.fail(
                "value \(index)/\(sequence) was destroyed on its producer's thread, by a strict worker that was running")
        }
        record.handed.store(sequence + 1, ordering: .releasing)
        if random.chance(scenario.flushChance) {
            let handed = ledger.handedCounts()
            switch Int.random(in: 0..<3, using: &random) {
            case 0:
                target.flush()
            case 1:
                if !target.flushWithTimeout(hangLimit) { ledger.fail("flush(timeout:) gave up after \(hangLimit)") }
            default:
                if !waitForTask(target.flushAsync) { ledger.fail("await flush() did not return in \(hangLimit)") }
            }
            ledger.checkDestroyed(upTo: handed, nested: target.barrierCoversNested, after: "flush()")
        }
        if ledger.problem != nil { return }
    }
}

