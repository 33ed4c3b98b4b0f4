import DeferDrop
import DeferDropTestSupport
import Dispatch
import Synchronization
import Testing


@Suite("Bounded capacity")
struct CapacityTests {
    @Test(
        "capacity is DropCapacity.default (unbounded) unless given",
        arguments: [DropCapacity.unbounded, .bounded(3, whenFull: .block), .timeBounded(maximumWait: .seconds(2))])
    func capacityIsKept(capacity: DropCapacity) {
        #expect(DropCapacity.default == .unbounded)
        #expect(DropCapacity.server == .timeBounded(maximumWait: .milliseconds(20)))
        #expect(DropWorker(name: "cap").capacity == .default)
        #expect(DropWorker(name: "cap", capacity: capacity).capacity == capacity)
    }

    /// Every policy, one after another, while producers hand over: the
    /// switch must lose nothing, destroy nothing twice and keep each
    /// producer's queued values in order, whichever way its hand-offs went.
    @Test(
        "capacity switched back and forth while 4 threads hand over: each value once, in order, the statistics exact",
        arguments: [nil, DropPriority.idle])
    func capacitySwitchedUnderLoad(priority: DropPriority?) {
        let worker = priority.map { DropWorker(name: "switching", priority: $0) } ?? DropWorker(name: "switching")
        let capacities: [DropCapacity] = [
            .server, .bounded(16, whenFull: .block), .timeBounded(maximumWait: .milliseconds(1)),
            .bounded(4, whenFull: .destroyInline), .unbounded,
        ]
        let log = DestructionLog()
        let stop = _Lock(false)
        let stopped = DispatchSemaphore(value: 0)
        _Thread.detach {
            var switches = 0
            while !stop.withLock({ $0 }) {
                worker.capacity = capacities[switches % capacities.count]
                switches += 1
                usleep(100)
            }
            worker.capacity = .server
            stopped.signal()
        }
        handOverSequenced(producers: 4, perProducer: 50_000, to: worker, log: log)
        stop.withLock { $0 = true }
        stopped.wait()
        worker.flush()
        #expect(log.checkExactlyOnceDeferredInOrder(producers: 4, perProducer: 50_000) == nil)
        let statistics = worker.statistics
        #expect(statistics.deferred == 200_000 && statistics.destroyed == 200_000 && statistics.pending == 0)
        #expect(statistics.destroyedInline == UInt64(log.onProducerCount))
        #expect(worker.capacity == .server, "reading gives back what was last set")
        if priority == nil { #expect(worker.priority == .idle, "the priority follows the capacity") }
        if let priority { #expect(worker.priority == priority, "a given priority stays") }
    }

    @Test("a capacity set to a bad value names it")
    func badCapacityIsNamed() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            DropWorker(name: "bad").capacity = .bounded(0, whenFull: .block)
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("DropWorker.capacity = .bounded(0, …): the capacity must be at least 1"), "\(message)")
    }

    @Test(
        "a slow destructor (1 ms) under a bound: pending never above it, nothing lost",
        arguments: [OverflowPolicy.block, .destroyInline])
    func slowDestructorUnderBound(policy: OverflowPolicy) {
        let bound = 4
        let worker = DropWorker(name: "slow-bounded", capacity: .bounded(bound, whenFull: policy))
        let log = DestructionLog()
        let producers = 3, perProducer = 40
        handOverSequenced(producers: producers, perProducer: perProducer, slow: true, to: worker, log: log)
        worker.flush()
        let statistics = worker.statistics
        #expect(statistics.peakPending <= UInt64(bound))
        #expect(statistics.deferred == UInt64(producers * perProducer))
        #expect(statistics.destroyed == statistics.deferred)
        #expect(log.count == producers * perProducer)
        #expect(Set(log.all.map { "\($0.producer)/\($0.sequence)" }).count == producers * perProducer)
        switch policy {
        case .block:
            // Producers waited instead: every value went through the worker, in order.
            #expect(statistics.destroyedInline == 0)
            #expect(log.onCreatorCount == 0)
            #expect(log.checkExactlyOnceInOrder(producers: producers, perProducer: perProducer) == nil)
        case .destroyInline:
            // 120 ms of destructors against 3 producers: most overflowed, on their producers.
            #expect(statistics.destroyedInline > 0)
            #expect(log.onCreatorCount == Int(statistics.destroyedInline))
        }
    }

    @Test("4 producers × 20,000 values into a bound of 8: peak within it, each value once, in order")
    func boundUnderLoad() {
        let worker = DropWorker(name: "bounded-load", capacity: .bounded(8, whenFull: .block))
        let log = DestructionLog()
        handOverSequenced(producers: 4, perProducer: 20_000, to: worker, log: log)
        worker.flush()
        #expect(worker.statistics.peakPending <= 8)
        #expect(worker.statistics.counts == DropStatistics(deferred: 80_000, destroyed: 80_000, peakPending: worker.statistics.peakPending))
        #expect(log.checkExactlyOnceInOrder(producers: 4, perProducer: 20_000) == nil)
        #expect(log.onCreatorCount == 0)
    }

    @Test(
        "4 producers × 20,000 values into a bound of 64, progress published every 4: peak within it, each value once",
        arguments: [OverflowPolicy.block, .destroyInline])
    func boundWithPublicationStride(policy: OverflowPolicy) {
        let worker = DropWorker(name: "bounded-stride", capacity: .bounded(64, whenFull: policy))
        let log = DestructionLog()
        handOverSequenced(producers: 4, perProducer: 20_000, to: worker, log: log)
        worker.flush()
        let statistics = worker.statistics
        #expect(statistics.peakPending <= 64, "peak \(statistics.peakPending)")
        #expect(statistics.deferred == 80_000 && statistics.destroyed == 80_000, "\(statistics)")
        #expect(Set(log.all.map { "\($0.producer)/\($0.sequence)" }).count == 80_000)
        #expect(log.onCreatorCount == Int(statistics.destroyedInline))
        if policy == .block {
            #expect(statistics.destroyedInline == 0)
            #expect(log.checkExactlyOnceInOrder(producers: 4, perProducer: 20_000) == nil)
        }
    }

    /// Every value travels through its thread's lane; what differs is the
    /// admission. A lane first used under the lock (an ordered hand-off, a
    /// count bound's) joins the collected lanes at its first append without
    /// it; a count bound set while lanes hold values collects them before it
    /// counts.
    @Test("8 threads mixing ordered and plain hand-offs while the capacity flips between a count bound and none: each value once, each thread's in order")
    func mixedAdmissionsAcrossCapacityChanges() {
        let worker = DropWorker(name: "mixed-admissions", capacity: .bounded(64, whenFull: .block))
        let ordered = worker.orderedAcrossThreads
        let log = DestructionLog()
        let producers = 8, perProducer = 20_000
        let finished = Atomic<Int>(0)
        onThreads(producers + 1) { thread in
            guard thread < producers else {
                var flips = 0
                while finished.load(ordering: .relaxed) < producers {
                    flips += 1
                    worker.capacity = flips % 2 == 0 ? .bounded(64, whenFull: .block) : .unbounded
                    sched_yield()
                }
                return
            }
            for sequence in 0..<perProducer {
                let probe = Probe(log, producer: thread, sequence: sequence)
                if sequence % 3 == 0 {
                    ordered.dispose(consume probe)
                } else {
                    worker.dispose(consume probe)
                }
            }
            finished.add(1, ordering: .relaxed)
        }
        #expect(worker.flush(timeout: .seconds(60)), "a value stayed in a lane no one collects: \(worker.statistics)")
        #expect(log.checkExactlyOnceInOrder(producers: producers, perProducer: perProducer) == nil)
        #expect(log.onCreatorCount == 0)
        let statistics = worker.statistics
        #expect(statistics.destroyed == UInt64(producers * perProducer) && statistics.pending == 0, "\(statistics)")
    }

    @Test("a destructor that hands values to its own full worker: queued, no deadlock")
    func nestedIntoOwnFullWorker() {
        let worker = DropWorker(name: "nested-full", capacity: .bounded(2, whenFull: .block))
        let destroyed = _Lock(0)
        for _ in 0..<50 {
            worker.dispose(Chain(length: 20, worker: worker, destroyed: destroyed))
        }
        #expect(worker.flush(timeout: .seconds(60)), "the worker did not finish: a deadlock?")
        #expect(destroyed.withLock { $0 } == 50 * 21)
        #expect(worker.statistics.destroyedInline == 0)
    }

    @Test("destructors on two full workers that feed each other: no deadlock, no value on a producer")
    func crossWorkerFull() {
        let a = DropWorker(name: "ping", capacity: .bounded(1, whenFull: .block))
        let b = DropWorker(name: "pong", capacity: .bounded(1, whenFull: .block))
        let destroyed = _Lock(0)
        let onProducer = _Lock(0)
        onThreads(2) { index in
            let (first, second) = index == 0 ? (a, b) : (b, a)
            let producer = currentThread()
            for _ in 0..<2_000 {
                first.dispose(Bouncer(hops: 3, here: first, there: second, destroyed: destroyed) {
                    if currentThread() == producer { onProducer.withLock { $0 += 1 } }
                })
            }
        }
        let deadline = ContinuousClock.now + .seconds(60)
        while destroyed.withLock({ $0 }) < 4_000 * 4, ContinuousClock.now < deadline {
            _ = a.flush(timeout: .seconds(1))
            _ = b.flush(timeout: .seconds(1))
        }
        #expect(destroyed.withLock { $0 } == 4_000 * 4, "not all values were destroyed within 60 s: a deadlock?")
        #expect(onProducer.withLock { $0 } == 0)
        // Every destructor has run; the counters are exact once both are flushed.
        a.flush()
        b.flush()
        // A full worker's value was destroyed on the other worker's thread instead of waiting.
        #expect(a.statistics.destroyedInline + b.statistics.destroyedInline > 0)
        #expect(a.statistics.pending == 0 && b.statistics.pending == 0)
    }

    @Test("shutdown() while producers are blocked on a full worker: each value once, in order")
    func shutdownReleasesBlockedProducers() {
        let worker = DropWorker(name: "full-stop", capacity: .bounded(4, whenFull: .block))
        let log = DestructionLog()
        let started = Signal()
        _Thread.detach {
            onThreads(4) { producer in
                for sequence in 0..<200 {
                    if producer == 0, sequence == 20 { started.raise() }
                    worker.dispose(SlowProbe(log, producer: producer, sequence: sequence, duration: .microseconds(200)))
                }
            }
            started.raise()
        }
        #expect(started.wait(seconds: 60))
        worker.shutdown()
        // Producers still running now destroy inline; wait for all of them.
        #expect(started.wait(seconds: 60), "the producers did not finish")
        #expect(log.checkExactlyOnceInOrder(producers: 4, perProducer: 200) == nil)
        let statistics = worker.statistics
        #expect(statistics.deferred == 800 && statistics.destroyed == 800)
        #expect(statistics.peakPending <= 4)
    }

    @Test("a .block producer is never starved by an idle-priority worker on busy cores")
    func blockedProducerProgressesUnderLoad() {
        let worker = DropWorker(name: "idle-full", capacity: .bounded(1, whenFull: .block), priority: .idle)
        let log = DestructionLog()
        let clock = ContinuousClock()
        let elapsed = withAllCoresBusy(threads: 2) {
            clock.measure {
                for sequence in 0..<10 {
                    worker.dispose(SlowProbe(log, sequence: sequence, duration: .microseconds(100)))
                }
                worker.flush()
            }
        }
        #expect(log.checkExactlyOnceInOrder(producers: 1, perProducer: 10) == nil)
        #expect(elapsed < .seconds(60), "10 hand-offs took \(elapsed)")
    }

    @Test("capacity below 1 is refused, naming the value", arguments: [0, -5])
    func capacityBelowOne(count: Int) async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) { [count = count as Int] in
            _ = DropWorker(name: "zero", capacity: .bounded(count, whenFull: .block))
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("DropWorker(capacity: .bounded(\(count), …)): the capacity must be at least 1"))
    }
}

/// A link of a chain: its destructor hands the next link to `worker`.
final class Chain: Sendable {
    let next: Chain?
    let worker: DropWorker
    let destroyed: _Lock<Int>

    init(length: Int, worker: DropWorker, destroyed: _Lock<Int>) {
        next = length > 0 ? Chain(length: length - 1, worker: worker, destroyed: destroyed) : nil
        self.worker = worker
        self.destroyed = destroyed
    }

    init(next: consuming Chain?, worker: DropWorker, destroyed: _Lock<Int>) {
        self.next = next
        self.worker = worker
        self.destroyed = destroyed
    }

    deinit {
        destroyed.withLock { $0 += 1 }
        if let next { worker.dispose(consume next) }
    }
}

/// Hops between two workers: each destructor hands a new bouncer to the other one.
final class Bouncer {
    let hops: Int
    let here: DropWorker
    let there: DropWorker
    let destroyed: _Lock<Int>
    let onDestroy: (@Sendable () -> Void)?

    init(hops: Int, here: DropWorker, there: DropWorker, destroyed: _Lock<Int>, onDestroy: (@Sendable () -> Void)? = nil) {
        self.hops = hops
        self.here = here
        self.there = there
        self.destroyed = destroyed
        self.onDestroy = onDestroy
    }

    deinit {
        onDestroy?()
        destroyed.withLock { $0 += 1 }
        if hops > 0 {
            there.dispose(Bouncer(hops: hops - 1, here: there, there: here, destroyed: destroyed))
        }
    }
}
