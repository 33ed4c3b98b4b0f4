import DeferDrop
import DeferDropTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Keeps the calling thread busy for `duration`: a producer's own work between hand-offs.
private func work(for duration: Duration) {
    let clock = ContinuousClock()
    let end = clock.now + duration
    while clock.now < end {}
}

/// 4 threads, each handing over 300 values whose destructor takes 1 ms, with
/// 1 ms of work of its own before each: 4 values per millisecond on 2 cores,
/// against 1 per millisecond for the worker.
private func outrun(_ worker: DropWorker, log: DestructionLog) {
    onThreads(4) { producer in
        for sequence in 0..<300 {
            work(for: .milliseconds(1))
            worker.dispose(SlowProbe(log, producer: producer, sequence: sequence))
        }
    }
}

/// Whether each producer's values that the worker destroyed came in the order handed over.
private func deferredInOrder(_ log: DestructionLog) -> Bool {
    var last: [Int: Int] = [:]
    for entry in log.all where !entry.onCreator {
        if let previous = last[entry.producer], previous >= entry.sequence { return false }
        last[entry.producer] = entry.sequence
    }
    return true
}

@Suite("Time-bounded capacity")
struct TimeBoundTests {
    @Test("a producer that outruns the worker: pending stays bounded, nothing is lost, deferred values keep each producer's order")
    func outrunningProducers() {
        let worker = DropWorker(name: "time-bound", capacity: .timeBounded(maximumWait: .milliseconds(20)))
        let log = DestructionLog()
        outrun(worker, log: log)
        worker.flush()
        let statistics = worker.statistics
        #expect(log.count == 1_200, "every value destroyed")
        #expect(Set(log.all.map { "\($0.producer)-\($0.sequence)" }).count == 1_200, "each exactly once")
        #expect(deferredInOrder(log), "the deferred values of each producer in its order")
        #expect(statistics.destroyedInline > 0, "the worker fell behind, so producers destroyed some values themselves")
        #expect(statistics.destroyedInline == UInt64(log.onCreatorCount), "exactly the inline ones ran on a producer")
        // Unbounded, the queue would reach most of the 1,200: the worker destroys a quarter
        // of what comes in. 20 ms of production is about 80 values here.
        #expect(statistics.peakPending <= 400, "peak pending \(statistics.peakPending)")
        #expect(statistics.deferred == 1_200 && statistics.pending == 0)
    }

    @Test("the crate's strict mode, unbounded, defers every value of the same producers")
    func strictModeDefersEverything() {
        let worker = DropWorker(name: "strict", capacity: .unbounded, priority: .batch)
        let log = DestructionLog()
        outrun(worker, log: log)
        worker.flush()
        #expect(log.checkExactlyOnceInOrder(producers: 4, perProducer: 300) == nil)
        #expect(log.onCreatorCount == 0, "never on the dropping thread")
        #expect(worker.statistics.destroyedInline == 0)
        #expect(worker.statistics.peakPending > 400, "it queued what the time bound would have freed inline")
    }

    @Test("a worker that keeps up defers all but the hand-offs that found it in its critical section")
    func keepingUp() {
        let worker = DropWorker(name: "time-ok", capacity: .timeBounded(maximumWait: .seconds(10)))
        let log = DestructionLog()
        // 4 producers on 2 cores: the worker is sometimes preempted while it
        // holds its lock, and a producer that cannot get the lock then frees
        // its value itself rather than wait.
        handOverSequenced(producers: 4, perProducer: 5_000, to: worker, log: log)
        worker.flush()
        let statistics = worker.statistics
        #expect(Set(log.all.map { "\($0.producer)-\($0.sequence)" }).count == 20_000, "each exactly once")
        #expect(deferredInOrder(log))
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
