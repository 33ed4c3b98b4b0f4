import DeferDrop
import DeferDropTestSupport
import Testing

@Suite("Per-value completion")
struct CompletionTests {
    @Test("whenDestroyed runs once, on the worker, right after the value's destructor")
    func callbackAfterDestructor() {
        let worker = DropWorker(name: "completion", capacity: .unbounded)
        let log = DestructionLog()
        let seen = _Lock<[(count: Int, thread: String)]>([])
        let producer = currentThread()
        deferDrop(Probe(log), on: worker) {
            let entry = (log.count, currentThreadName())
            seen.withLock { $0.append(entry) }
        }
        worker.flush()
        let calls = seen.withLock { $0 }
        #expect(calls.count == 1)
        let result = calls.first
        #expect(result?.count == 1, "the callback ran before the destructor")
        #expect(result?.thread == "completion")
        #expect(log.all.first?.thread != producer)
    }

    @Test("callbacks come in hand-over order, one per value, under load")
    func callbacksInOrder() {
        let worker = DropWorker(name: "completion-load", capacity: .unbounded)
        let order = _Lock<[[Int]]>(Array(repeating: [], count: 4))
        onThreads(4) { producer in
            for sequence in 0..<10_000 {
                deferDrop([sequence], on: worker) { order.withLock { $0[producer].append(sequence) } }
            }
        }
        worker.flush()
        #expect(order.withLock { $0 } == Array(repeating: Array(0..<10_000), count: 4))
    }

    @Test("a noncopyable value and the shared worker")
    func noncopyableOnShared() {
        let log = DestructionLog()
        let done = Signal()
        let destroyedBefore = _Lock(0)
        deferDrop(UniqueProbe(log)) {
            destroyedBefore.withLock { $0 = log.count }
            done.raise()
        }
        #expect(done.wait(seconds: 30), "whenDestroyed did not run")
        #expect(destroyedBefore.withLock { $0 } == 1, "the callback runs after the destructor")
        // On the worker, or here if the shared worker was 20 ms behind (other
        // tests keep it busy): the default capacity allows either.
        #expect(log.count == 1)
    }

    @Test("after shutdown(), the callback runs inline, before deferDrop returns")
    func callbackInlineAfterShutdown() {
        let worker = DropWorker(name: "completion-off", capacity: .unbounded)
        worker.shutdown()
        let ran = _Lock(false)
        deferDrop([1, 2, 3], on: worker) { ran.withLock { $0 = true } }
        #expect(ran.withLock { $0 })
    }

    @Test("deferDropAndWait returns once the value is destroyed, off the caller's thread")
    func awaitDestruction() async {
        let worker = DropWorker(name: "completion-await", capacity: .unbounded)
        let log = DestructionLog()
        for sequence in 0..<100 {
            await deferDropAndWait(SlowProbe(log, sequence: sequence, duration: .microseconds(100)), on: worker)
            #expect(log.count == sequence + 1)
        }
        #expect(log.onCreatorCount == 0)
        // The counters are published after the destructor returns: exact after a flush.
        await worker.flush()
        #expect(worker.statistics.deferred == 100 && worker.statistics.destroyed == 100)
        let shared = DestructionLog()
        await deferDropAndWait(Probe(shared))
        #expect(shared.count == 1)
    }
}
