import DeferDrop
import DeferDropTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What a time-bounded worker promises after `outrunSlowly`: every value destroyed
/// once, the deferred ones in each producer's order, exactly the inline ones on
/// a producer, and a backlog far below the 1,200 an unbounded queue reaches.
/// Unbounded, the queue would reach most of the 1,200: the worker destroys a
/// quarter of what comes in. 20 ms of production is about 80 values here.
private func expectBoundedInTime(_ statistics: DropStatistics, _ log: DestructionLog) {
    #expect(log.count == 1_200, "every value destroyed")
    #expect(log.checkExactlyOnceDeferredInOrder(producers: 4, perProducer: 300) == nil)
    #expect(statistics.destroyedInline > 0, "the worker fell behind, so producers destroyed some values themselves")
    #expect(statistics.destroyedInline == UInt64(log.onCreatorCount), "exactly the inline ones ran on a producer")
    #expect(statistics.peakPending <= 400, "peak pending \(statistics.peakPending)")
    #expect(statistics.deferred == 1_200 && statistics.pending == 0)
}

@Suite("Time-bounded capacity")
struct TimeBoundTests {
    @Test("a producer that outruns the worker: pending stays bounded, nothing is lost, deferred values keep each producer's order")
    func outrunningProducers() {
        let worker = DropWorker(name: "time-bound", capacity: .timeBounded(maximumWait: .milliseconds(20)), priority: .batch)
        let log = DestructionLog()
        outrunSlowly(worker, log: log)
        worker.flush()
        expectBoundedInTime(worker.statistics, log)
    }

    @Test("the same producers and a worker made with the defaults: 20 ms, at idle priority")
    func outrunningTheDefault() {
        let worker = DropWorker(name: "default-bound")
        let log = DestructionLog()
        outrunSlowly(worker, log: log)
        worker.flush()
        expectBoundedInTime(worker.statistics, log)
    }

    @Test("the same producers and the shared worker, in a process of its own for exact statistics")
    func outrunningTheSharedWorker() async {
        await #expect(processExitsWith: .success) {
            let log = DestructionLog()
            outrunSlowly(DropWorker.shared, log: log)
            await DropWorker.shared.flush()
            let statistics = DropWorker.shared.statistics
            exit(statistics.destroyedInline > 0 && statistics.destroyedInline == UInt64(log.onCreatorCount)
                && statistics.peakPending <= 400 && log.checkExactlyOnceDeferredInOrder(producers: 4, perProducer: 300) == nil
                ? 0 : 1)
        }
    }

    @Test("the crate's strict mode, unbounded, defers every value of the same producers")
    func strictModeDefersEverything() {
        let worker = DropWorker(name: "strict", capacity: .unbounded, priority: .batch)
        let log = DestructionLog()
        outrunSlowly(worker, log: log)
        worker.flush()
        #expect(log.checkExactlyOnceInOrder(producers: 4, perProducer: 300) == nil)
        #expect(log.onCreatorCount == 0, "never on the dropping thread")
        #expect(worker.statistics.destroyedInline == 0)
    }

    @Test("a worker that keeps up defers all but the hand-offs that found it in its critical section")
    func keepingUp() {
        let worker = DropWorker(name: "time-ok", capacity: .timeBounded(maximumWait: .seconds(10)), priority: .batch)
        let log = DestructionLog()
        // 4 producers on 2 cores: the worker is sometimes preempted while it
        // holds its lock, and a producer that cannot get the lock then frees
        // its value itself rather than wait.
        handOverSequenced(producers: 4, perProducer: 5_000, to: worker, log: log)
        worker.flush()
        let statistics = worker.statistics
        #expect(log.checkExactlyOnceDeferredInOrder(producers: 4, perProducer: 5_000) == nil)
        #expect(statistics.destroyedInline == UInt64(log.onCreatorCount))
        #expect(statistics.destroyedInline < 10_000, "most deferred: \(statistics.destroyedInline) freed inline")
        #expect(worker.capacity == .timeBounded(maximumWait: .seconds(10)))
    }

    @Test("a wait that is not positive stops the program with a message naming it")
    func zeroWait() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = DropWorker(name: "zero", capacity: .timeBounded(maximumWait: .zero))
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("DropWorker(capacity: .timeBounded(maximumWait: "))
        #expect(message.contains("the wait must be positive"))
    }
}
