import DeferDrop
import DeferDropTestSupport
import Testing

@Suite("DropStatistics")
struct StatisticsTests {
    /// A bounded worker publishes each value as soon as it is destroyed, and
    /// a `flush()` that finds every queued value done returns at once: the
    /// values its destructor destroyed in place must be counted by then.
    /// (The soak found `deferred` short by the nested values, when the flush
    /// came just after the worker published the outer value.)
    @Test("statistics are exact after flush() on a bounded worker whose values nest", arguments: [1, 8])
    func exactWithNestingOnBoundedWorker(capacity: Int) {
        let worker = DropWorker(name: "nested-bound", capacity: .bounded(capacity, whenFull: .block))
        let record = _Lock<[Int]>([])
        for round in 1...2_000 {
            let nested = DeferDrop(DropOrderRecorder(id: 1, record: record), on: worker)
            worker.dispose(DropOrderRecorder(id: 0, record: record, value: [consume nested]))
            // Varies when the flush comes: before the worker wakes, while it
            // destroys, or just after it published the value.
            busyWork(for: .microseconds(round % 40))
            worker.flush()
            let statistics = worker.statistics
            guard statistics.deferred == UInt64(2 * round), statistics.destroyed == UInt64(2 * round) else {
                Issue.record("round \(round): \(statistics.deferred) deferred, \(statistics.destroyed) destroyed; expected \(2 * round) of each")
                return
            }
        }
        #expect(record.withLock { $0.count } == 4_000)
    }

    @Test("combined(with:) adds every count, keeps the larger peak, and sums known bytes")
    func combined() {
        let left = DropStatistics(
            deferred: 10, destroyed: 8, peakPending: 5, reclaimedBytes: 100, destroyedInline: 2, releasedElsewhere: 1)
        let right = DropStatistics(
            deferred: 7, destroyed: 7, peakPending: 9, reclaimedBytes: nil, destroyedInline: 3, releasedElsewhere: 4)
        let total = left.combined(with: right)
        #expect(total == DropStatistics(
            deferred: 17, destroyed: 15, peakPending: 9, reclaimedBytes: 100, destroyedInline: 5, releasedElsewhere: 5))
        #expect(total.pending == 2)
        #expect(right.combined(with: left) == total, "the order does not matter")
        #expect(DropStatistics().combined(with: left) == left, "an empty set of counters changes nothing")
        #expect(right.combined(with: right).reclaimedBytes == nil, "nil when neither side measures bytes")
        #expect(left.combined(with: left).reclaimedBytes == 200)
    }

    @Test("combined(with:) knows every stored field")
    func combinedCoversEveryField() {
        // A new counter must be added to combined(with:) and to this test:
        // this count fails until both are updated.
        let fields = Mirror(reflecting: DropStatistics()).children.compactMap(\.label)
        #expect(
            fields.sorted() == [
                "deferred", "destroyed", "destroyedInline", "peakPending", "reclaimedBytes", "releasedElsewhere",
            ])
        var ones = DropStatistics(
            deferred: 1, destroyed: 1, peakPending: 1, reclaimedBytes: 1, destroyedInline: 1, releasedElsewhere: 1)
        ones = ones.combined(with: ones)
        let doubled = Mirror(reflecting: ones).children.filter { $0.label != "peakPending" }
        for field in doubled {
            let value = (field.value as? UInt64) ?? (field.value as? UInt64?)?.flatMap { $0 }
            #expect(value == 2, "\(field.label ?? "?") was not added up")
        }
    }

    @Test("description names values released elsewhere")
    func description() {
        #expect("\(DropStatistics(deferred: 3, destroyed: 3, peakPending: 1))" == "deferred 3, destroyed 3, pending 0, peak 1")
        #expect(
            "\(DropStatistics(deferred: 3, destroyed: 3, peakPending: 1, releasedElsewhere: 2))"
                == "deferred 3, destroyed 3, pending 0, peak 1, released elsewhere 2")
    }
}

@Suite("Released elsewhere")
struct ReleasedElsewhereTests {
    @Test("an object, an array, a dictionary, a set and a wrapper handed over while still referenced: each counted")
    func stillReferencedIsCounted() {
        // Sendable values: `sending` rightly refuses a non-Sendable value that
        // is used after the hand-off.
        let worker = DropWorker(name: "elsewhere", capacity: .unbounded)
        let destroyed = _Lock<[UInt: Int]>([:])
        let object = Counted(destroyed)
        let array = [Counted(destroyed)]
        let dictionary = [1: Counted(destroyed)]
        let set: Set<Int> = [1, 2, 3]
        let boxed = Counted(destroyed)
        withExtendedLifetime((object, array, dictionary, set, boxed)) {
            // Without `consume`, and the locals used afterwards: the worker's
            // release is not the last one.
            worker.dispose(object)
            worker.dispose(array)
            worker.dispose(dictionary)
            worker.dispose(set)
            let wrapper = DeferDrop(boxed, on: worker)
            _ = consume wrapper
            deferDrop(object, on: worker) { }
            worker.flush()
            #expect(destroyed.withLock { $0.values.reduce(0, +) } == 0, "the locals still hold every value")
        }
        let statistics = worker.statistics
        #expect(statistics.releasedElsewhere == 6)
        #expect(statistics.deferred == 6 && statistics.destroyed == 6, "still counted as deferred and destroyed")
    }

    @Test("values handed over with consume, or made in the call: none counted")
    func lastReferenceIsNotCounted() {
        let worker = DropWorker(name: "not-elsewhere", capacity: .unbounded)
        let log = DestructionLog()
        for round in 0..<1_000 {
            let object = Probe(log, sequence: round)
            worker.dispose(consume object)
            let array = (0..<3).map { Probe(log, producer: 1, sequence: $0) }
            worker.dispose(consume array)
            worker.dispose([round: Probe(log, producer: 2)])
            worker.dispose(Set([round]))
            worker.dispose([Int]())  // empty collections share a static buffer: never counted
            // Constant literals, which an optimised build lays out statically as
            // immortal objects: nothing destroys them, so nothing is released elsewhere.
            worker.dispose([1, 2, 3])
            worker.dispose(["constant": 1])
            let constant = DeferDrop([4, 5, 6], on: worker)
            _ = consume constant
            let wrapper = DeferDrop(Probe(log, producer: 3), on: worker)
            _ = consume wrapper
            deferDrop(Probe(log, producer: 4), on: worker) { }
        }
        worker.flush()
        #expect(worker.statistics.releasedElsewhere == 0)
        #expect(worker.statistics.deferred == 10_000)
        #expect(log.onCreatorCount == 0)
    }

    @Test("in a debug build the worker says so once, naming consume; a release build stays silent")
    func debugReport() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let worker = DropWorker(name: "report", capacity: .unbounded)
            let kept = (0..<10).map { _ in Counted(_Lock([:])) }
            withExtendedLifetime(kept) {
                for object in kept { worker.dispose(object) }
                worker.flush()
            }
            await worker.flush()
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #if DEBUG
        #expect(message.contains("DropWorker \"report\" released a value that was still referenced elsewhere"))
        #expect(message.contains("consume"))
        #expect(message.components(separatedBy: "DeferDrop:").count == 2, "reported once, not once per value")
        #else
        #expect(!message.contains("DeferDrop:"))
        #endif
    }
}

@Suite("Graceful shutdown")
struct GracefulShutdownTests {
    @Test("shutdownGracefully() from 16 tasks at once: each returns after the drain, nothing lost")
    func fromManyTasks() async {
        let worker = DropWorker(name: "graceful", capacity: .unbounded)
        let log = DestructionLog()
        for sequence in 0..<200 {
            worker.dispose(SlowProbe(log, sequence: sequence, duration: .microseconds(200)))
        }
        await withTaskGroup(of: Int.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    await worker.shutdownGracefully()
                    return log.count
                }
            }
            for await seen in group {
                #expect(seen == 200, "a task returned before the drain finished")
            }
        }
        #expect(log.checkExactlyOnceInOrder(producers: 1, perProducer: 200) == nil)
        worker.dispose(Probe(log, sequence: 200))
        #expect(worker.statistics.destroyedInline == 1, "after the shutdown, values are destroyed inline")
        await worker.shutdownGracefully()  // again: returns at once
    }

    @Test("shutdownGracefully() on a worker that never started, and while producers hand values over")
    func idleAndBusy() async {
        let idle = DropWorker(name: "graceful-idle", capacity: .unbounded)
        await idle.shutdownGracefully()
        #expect(idle.statistics == DropStatistics(reclaimedBytes: idle.statistics.reclaimedBytes))

        let busy = DropWorker(name: "graceful-busy", capacity: .unbounded)
        let log = DestructionLog()
        let producers = Task.detached {
            handOverSequenced(producers: 4, perProducer: 20_000, to: busy, log: log)
        }
        await busy.shutdownGracefully()
        await producers.value
        #expect(log.count == 80_000, "every value destroyed once: by the worker or, after the shutdown, inline")
        #expect(log.checkExactlyOnceInOrder(producers: 4, perProducer: 20_000) == nil)
        let statistics = busy.statistics
        #expect(statistics.deferred == 80_000 && statistics.destroyed == 80_000)
    }
}
