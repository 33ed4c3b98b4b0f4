import DeferDrop
import DeferDropTestSupport
import Testing
import _DeferDropShims


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

    @Test("the same producers and a worker with the server's capacity: 20 ms, at idle priority")
    func outrunningTheServerCapacity() {
        let worker = DropWorker(name: "server-bound", capacity: .server)
        #expect(worker.priority == .idle)
        let log = DestructionLog()
        outrunSlowly(worker, log: log)
        worker.flush()
        #expect(log.outrunWorkerProblem(after: worker.statistics) == nil)
    }

    @Test("the same producers and the shared worker given the server recipe, in a process of its own for exact statistics")
    func outrunningTheSharedWorker() async {
        await #expect(processExitsWith: .success) {
            DropWorker.shared.capacity = .server
            if DropWorker.shared.priority != .idle {
                printError("the shared worker's priority did not follow its capacity: \(DropWorker.shared.priority)")
                exit(1)
            }
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
        #expect(statistics.destroyedInline == UInt64(log.onProducerCount))
        #expect(statistics.destroyedInline < 10_000, "most deferred: \(statistics.destroyedInline) freed inline")
        #expect(worker.capacity == .timeBounded(maximumWait: .seconds(10)))
    }

    @Test("a worker that outlasts its bound gives back the rest of its batch, and a producer destroys it, in order")
    func batchGivenBackToProducers() {
        // Producer 0 queues 100 values of 2 ms at once: 200 ms of work for a
        // worker that may only be busy 20 ms at a time. Producer 1 then hands
        // over a value every 5 ms, until it has destroyed some of producer
        // 0's itself (bounded: 2 s).
        let worker = DropWorker(name: "give-back", capacity: .timeBounded(maximumWait: .milliseconds(20)), priority: .batch)
        let log = DestructionLog()
        let queued = Signal()
        let handedOver = _Lock(0)
        onThreads(2) { producer in
            if producer == 0 {
                for value in 0..<100 {
                    worker.dispose(SlowProbe(log, producer: 0, sequence: value, duration: .milliseconds(2)))
                }
                queued.raise()
                return
            }
            guard queued.wait(seconds: 10) else { return }
            let deadline = ContinuousClock.now + .seconds(2)
            while log.onOtherProducerCount == 0, ContinuousClock.now < deadline {
                let value = handedOver.withLock { count in
                    defer { count += 1 }
                    return count
                }
                worker.dispose(Probe(log, producer: 1, sequence: value))
                usleep(5_000)
            }
        }
        worker.flush()
        let statistics = worker.statistics
        let firstProducer = log.all.filter { $0.producer == 0 }
        #expect(log.onOtherProducerCount > 0, "no value of producer 0 was destroyed by producer 1")
        // Producer 0 may itself find the worker behind (or inside its lock)
        // on a loaded machine, and free a value inline, ahead of its queued
        // ones: the contract is each value once, and the deferred ones in order.
        let deferred = firstProducer.filter { !$0.onCreator }.map(\.sequence)
        #expect(firstProducer.map(\.sequence).sorted() == Array(0..<100), "producer 0's values: once each")
        #expect(deferred == deferred.sorted(), "producer 0's deferred values in order")
        #expect(statistics.destroyedInline == UInt64(log.onProducerCount))
        #expect(statistics.deferred == UInt64(100 + handedOver.withLock { $0 }) && statistics.pending == 0, "\(statistics)")
    }

    @Test("a destructor that a producer runs for a behind worker may shut it down and hand it values: no deadlock, nothing lost")
    func shutdownFromADestructorInAProducersDrain() {
        // As in the give-back test, producer 1 ends up destroying producer 0's
        // values for the worker. The first of them it destroys calls
        // `shutdown()` and then hands over a value. Found by the soak: the
        // hand-off waited for the shutdown's drain, and the worker stood
        // aside for the producer's drain, each for the other, for ever.
        let worker = DropWorker(name: "drain-stop", capacity: .timeBounded(maximumWait: .milliseconds(20)), priority: .batch)
        // A deadlock must fail this test, not hang the process at exit.
        worker.drainsAtExit = false
        let log = DestructionLog()
        let nestedLog = DestructionLog()
        let stoppedByDrainer = _Lock(false)
        let finished = Signal()
        _Thread.detach {
            drainByAProducer(of: worker, log: log, isDone: { stoppedByDrainer.withLock { $0 } }) {
                let isFirst = stoppedByDrainer.withLock { stopped in
                    defer { stopped = true }
                    return !stopped
                }
                guard isFirst else { return }
                worker.shutdown()
                worker.dispose(Probe(nestedLog, producer: 2))
            }
            finished.raise()
        }
        guard finished.wait(seconds: 60) else {
            Issue.record("the producers did not finish within 60 s: a shutdown from a producer's drain deadlocked")
            return
        }
        // Scheduling decides whether producer 1 drained at all; when it did,
        // the shutdown it began completes, and nothing is lost or doubled.
        if stoppedByDrainer.withLock({ $0 }) {
            worker.shutdown()
            let first = log.all.filter { $0.producer == 0 }.map(\.sequence)
            #expect(first.sorted() == Array(0..<100), "producer 0's values: once each")
            #expect(nestedLog.count == 1, "the value handed over from the drained destructor")
            #expect(worker.statistics.pending == 0, "\(worker.statistics)")
        } else {
            worker.shutdown()
            #expect(log.all.filter { $0.producer == 0 }.count == 100)
        }
    }

    @Test("an idle worker on a saturated machine gives back what it cannot finish: producers destroy it, in order")
    func idleWorkerStarvedOfCPU() {
        // Two threads spin on the two cores at normal priority, so a worker
        // at `.idle` gets little. Producer 0 queues 50 values of 1 ms, which
        // the worker takes; producer 1 then hands over a value every 5 ms.
        // Once the worker has been 20 ms on them it gives the rest back and
        // waits while producers drain, and producer 1 destroys them. Scheduling decides
        // much here: up to 10 rounds, each with a new worker, until producer
        // 1 has destroyed some of producer 0's values.
        var drainedByProducer1 = 0
        for round in 0..<10 where drainedByProducer1 == 0 {
            let worker = DropWorker(name: "starved-\(round)", capacity: .timeBounded(maximumWait: .milliseconds(20)))
            // The worker's thread, started and asleep at `.idle` (a new
            // thread takes its first batch before it lowers its priority).
            worker.dispose([round])
            worker.flush()
            let log = DestructionLog()
            let queued = Signal()
            let spinning = _Lock(true)
            onThreads(4) { thread in
                switch thread {
                case 0:
                    for value in 0..<50 { worker.dispose(SlowProbe(log, producer: 0, sequence: value)) }
                    queued.raise()
                case 1:
                    defer { spinning.withLock { $0 = false } }
                    guard queued.wait(seconds: 10) else { return }
                    for value in 0..<20 {
                        usleep(5_000)
                        worker.dispose(Probe(log, producer: 1, sequence: value))
                    }
                default:
                    while spinning.withLock({ $0 }) { busyWork(for: .microseconds(100)) }
                }
            }
            worker.flush()
            drainedByProducer1 = log.onOtherProducerCount
            let statistics = worker.statistics
            let first = log.all.filter { $0.producer == 0 }
            let deferred = first.filter { !$0.onCreator }.map(\.sequence)
            #expect(first.map(\.sequence).sorted() == Array(0..<50), "producer 0's values, each once")
            #expect(deferred == deferred.sorted(), "producer 0's deferred values in order")
            #expect(log.count == 70)
            #expect(statistics.destroyedInline == UInt64(log.onProducerCount))
            #expect(statistics.deferred == 71 && statistics.pending == 0, "\(statistics)")
        }
        #expect(drainedByProducer1 > 0, "in 10 rounds, producer 1 never destroyed a value the starved worker had queued")
    }

    @Test("a worker stuck past its bound: the next hand-off is destroyed inline, however few came before it")
    func firstHandOffPastTheBound() {
        // One value at a time, as a server hands over one large value per
        // request: the time bound must not wait for a count of hand-offs
        // before it applies (a lane once checked only every 16th).
        let stuck = StuckWorker(named: "stuck")
        let worker = stuck.worker
        for value in 0..<3 { worker.dispose([value]) }
        // Past the bound on the coarse clock (4 ms ticks at most).
        busyWork(for: .milliseconds(50))
        let destroyedOn = _Lock<UInt?>(nil)
        worker.dispose(OnDestroy { destroyedOn.withLock { $0 = currentThread() } })
        let statistics = stuck.release()
        #expect(destroyedOn.withLock { $0 } == currentThread(), "the hand-off past the bound was queued")
        // The three before it went to the lane, unless this thread was held up
        // past the bound before it handed them over.
        #expect(statistics.destroyedInline >= 1, "\(statistics)")
        #expect(worker.statistics.deferred == 5 && worker.statistics.pending == 0, "\(worker.statistics)")
    }

    @Test("after a stream that spaced its clock reads out, the bound applies within 32 hand-offs")
    func boundAfterAFastStream() {
        // A fast stream reads the clock at one hand-off in up to 32
        // (`_Lane.isClockDue`); a pause past the bound must not let
        // more than that many through to the stuck worker.
        let stuck = StuckWorker(named: "stuck-after-stream")
        let worker = stuck.worker
        // Fast enough that the clock stands still between reads, so the gap
        // between them grows to its largest.
        for value in 0..<700 { worker.dispose([value]) }
        busyWork(for: .milliseconds(50))
        let me = currentThread()
        let onThisThread = _Lock(0)
        for _ in 0..<32 {
            worker.dispose(OnDestroy { if currentThread() == me { onThisThread.withLock { $0 += 1 } } })
        }
        let statistics = stuck.release()
        // The 32nd at the latest read the clock, found the worker behind and
        // was destroyed here.
        #expect(onThisThread.withLock { $0 } >= 1, "32 hand-offs past the bound all queued: \(statistics)")
        #expect(worker.statistics.deferred == 733 && worker.statistics.pending == 0, "\(worker.statistics)")
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

/// A time-bounded worker (20 ms, `.batch`) held up in the destructor of its
/// first value until `release()`.
private struct StuckWorker {
    let worker: DropWorker
    private let go = Signal()
    private let released = _Lock(true)

    init(named name: String) {
        worker = DropWorker(name: name, capacity: .timeBounded(maximumWait: .milliseconds(20)), priority: .batch)
        let started = Signal()
        let (go, released) = (go, released)
        worker.dispose(OnDestroy {
            started.raise()
            released.withLock { $0 = go.wait(seconds: 20) }
        })
        #expect(started.wait(seconds: 10), "the worker never began the blocking value")
    }

    /// Lets the worker go and waits for it to destroy everything: returns the
    /// statistics from just before.
    func release() -> DropStatistics {
        let statistics = worker.statistics
        go.raise()
        worker.flush()
        #expect(released.withLock { $0 }, "the blocking value waited 20 s to be released")
        return statistics
    }
}
