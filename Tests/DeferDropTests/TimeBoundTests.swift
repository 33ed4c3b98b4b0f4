import DeferDrop
import DeferDropTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Time-bounded capacity")
struct TimeBoundTests {
    @Test("a producer that outruns the worker: pending stays bounded, nothing is lost, deferred values keep each producer's order")
    func outrunningProducers() {
        let worker = DropWorker(name: "time-bound", capacity: .timeBounded(maximumWait: .milliseconds(20)), priority: .batch)
        let log = DestructionLog()
        outrunSlowly(worker, log: log)
        worker.flush()
        #expect(log.outrunWorkerProblem(after: worker.statistics) == nil)
    }

    @Test("the same producers and a worker made with the defaults: 20 ms, at idle priority")
    func outrunningTheDefault() {
        let worker = DropWorker(name: "default-bound")
        let log = DestructionLog()
        outrunSlowly(worker, log: log)
        worker.flush()
        #expect(log.outrunWorkerProblem(after: worker.statistics) == nil)
    }

    @Test("the same producers and the shared worker, in a process of its own for exact statistics")
    func outrunningTheSharedWorker() async {
        await #expect(processExitsWith: .success) {
            let log = DestructionLog()
            outrunSlowly(DropWorker.shared, log: log)
            await DropWorker.shared.flush()
            if let problem = log.outrunWorkerProblem(after: DropWorker.shared.statistics) {
                printError(problem)
                exit(1)
            }
            exit(0)
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
