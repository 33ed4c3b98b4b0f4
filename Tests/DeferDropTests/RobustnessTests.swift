import DeferDrop
import DeferDropTestSupport
import Testing


@Suite("Robustness")
struct RobustnessTests {
    /// In a child process, so that the shared worker's statistics are this
    /// test's alone (other tests hand values to it in parallel).
    @Test("4 producers × 250,000 values to the shared worker with its defaults: each once, on the worker, in each producer's order")
    func sharedWorkerUnderLoad() async {
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let log = DestructionLog()
            handOverSequenced(producers: 4, perProducer: 250_000, to: DropWorker.shared, log: log)
            await DropWorker.shared.flush()
            var failures: [String] = []
            if let problem = log.checkExactlyOnceInOrder(producers: 4, perProducer: 250_000) {
                failures.append(problem)
            }
            let statistics = DropWorker.shared.statistics
            if statistics.destroyedInline != 0 || log.onProducerCount != 0 {
                failures.append("statistics: \(statistics.destroyedInline) inline, \(log.onProducerCount) on a producer")
            }
            if statistics.deferred != 1_000_000 || statistics.destroyed != 1_000_000 || statistics.pending != 0
                || statistics.peakPending > 1_000_000
            {
                failures.append("statistics: \(statistics)")
            }
            if !failures.isEmpty {
                printError(failures.joined(separator: "\n"))
                exit(1)
            }
            exit(0)
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(!message.contains("statistics") && !message.contains("producer"), "\(message)")
    }

    @Test("a destructor blocked on a lock held by a thread in flush(): flush(timeout:) gives up, nothing is lost")
    func lockHeldAcrossFlush() {
        let worker = DropWorker(name: "lock-flush", capacity: .unbounded)
        let lock = HeldLock()
        let log = DestructionLog()
        lock.lock()
        worker.dispose(OnDestroy {
            lock.lock()
            lock.unlock()
        })
        worker.dispose(Probe(log))
        // flush() here would wait for a destructor that waits for us. The bounded
        // form returns instead, and the values are still queued.
        #expect(worker.flush(timeout: .milliseconds(200)) == false)
        #expect(log.count == 0)
        lock.unlock()
        #expect(worker.flush(timeout: .seconds(60)), "the worker did not go on once the lock was free")
        #expect(log.count == 1)
        #expect(worker.statistics.counts == DropStatistics(deferred: 2, destroyed: 2, peakPending: 2))
    }

    @Test("the same, with the flush on another thread than the lock holder: the holder's flush(timeout:) returns")
    func lockHeldAcrossFlushOtherThread() {
        let worker = DropWorker(name: "lock-flush-2", capacity: .unbounded)
        let lock = HeldLock()
        let holding = Signal()
        let release = Signal()
        let timedOut = _Lock<Bool?>(nil)
        _Thread.detach {
            lock.lock()
            worker.dispose(OnDestroy {
                lock.lock()
                lock.unlock()
            })
            holding.raise()
            timedOut.withLock { $0 = !worker.flush(timeout: .milliseconds(300)) }
            lock.unlock()
            release.raise()
        }
        #expect(holding.wait(seconds: 60))
        #expect(release.wait(seconds: 60), "the lock holder never came back from flush(timeout:)")
        #expect(timedOut.withLock { $0 } == true)
        worker.flush()
        #expect(worker.statistics.pending == 0)
    }

    @Test("flush(timeout:) from a destructor on the worker's own thread returns false at once, and the worker goes on")
    func flushWithTimeoutOnTheWorkersThread() {
        let worker = DropWorker(name: "flush-self", capacity: .unbounded)
        let results = _Lock<[(flushed: Bool, seconds: Double)]>([])
        let log = DestructionLog()
        for _ in 0..<3 {
            worker.dispose(OnDestroy {
                let clock = ContinuousClock()
                let start = clock.now
                // The barrier waits for this thread: waiting would last the whole minute.
                let flushed = worker.flush(timeout: .seconds(60))
                let elapsed = clock.now - start
                results.withLock { $0.append((flushed, Double(elapsed.components.seconds))) }
            })
            worker.dispose(Probe(log))
        }
        #expect(worker.flush(timeout: .seconds(120)), "the worker did not go on after its own flush(timeout:)")
        let seen = results.withLock { $0 }
        #expect(seen.count == 3)
        #expect(seen.allSatisfy { !$0.flushed }, "a value was pending behind the destructor: \(seen)")
        #expect(seen.allSatisfy { $0.seconds < 30 }, "flush(timeout:) waited for its own thread: \(seen)")
        #expect(log.count == 3 && log.onCreatorCount == 0)
    }

    @Test("a chain of 100,000 nested hand-offs to the same worker: no recursion, no deadlock")
    func deepNestedChain() {
        let worker = DropWorker(name: "deep-chain", capacity: .unbounded)
        let destroyed = _Lock(0)
        worker.dispose(Chain(length: 0, worker: worker, destroyed: destroyed))
        worker.flush()
        // Built iteratively: a recursive initializer would itself overflow the stack.
        var head: Chain? = nil
        for _ in 0..<100_000 {
            head = Chain(next: head, worker: worker, destroyed: destroyed)
        }
        worker.dispose(head.take()!)
        worker.flush()
        #expect(destroyed.withLock { $0 } == 100_001)
    }
}
