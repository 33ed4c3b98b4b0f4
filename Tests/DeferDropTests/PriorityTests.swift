import DeferDrop
import DeferDropTestSupport
import Testing
import _DeferDropShims
import _DeferDropTestShims

@Suite("Worker priority")
struct PriorityTests {
    @Test("the default capacity runs in SCHED_BATCH, the shared worker too; a time-bounded one in SCHED_IDLE")
    func defaultPriorityFollowsCapacity() {
        let worker = DropWorker(name: "prio-default")
        #expect(worker.capacity == .default)
        #expect(worker.priority == .batch)
        #expect(schedulingClassOfThread(destroyingOn: worker) == Int32(DEFERDROP_SCHED_BATCH))
        #expect(DropWorker.shared.capacity == .default)
        #expect(DropWorker.shared.priority == .batch)
        #expect(schedulingClassOfThread(destroyingOn: DropWorker.shared) == Int32(DEFERDROP_SCHED_BATCH))
        let server = DropWorker(name: "prio-server", capacity: .server)
        #expect(server.priority == .idle)
        #expect(schedulingClassOfThread(destroyingOn: server) == Int32(DEFERDROP_SCHED_IDLE))
        let strict = DropWorker(name: "prio-strict", capacity: .unbounded)
        #expect(strict.priority == .batch)
        #expect(schedulingClassOfThread(destroyingOn: strict) == Int32(DEFERDROP_SCHED_BATCH))
        let counted = DropWorker(name: "prio-counted", capacity: .bounded(8, whenFull: .block))
        #expect(counted.priority == .batch)
        #expect(DropWorker(name: "prio-timed", capacity: .timeBounded(maximumWait: .seconds(1))).priority == .idle)
        #expect(DropWorker(name: "prio-given", priority: .normal).priority == .normal)
    }

    @Test(
        "each priority is the thread's scheduling class",
        arguments: [
            (DropPriority.normal, DEFERDROP_SCHED_NORMAL), (.batch, DEFERDROP_SCHED_BATCH),
            (.idle, DEFERDROP_SCHED_IDLE),
        ])
    func priorityIsApplied(priority: DropPriority, expected: Int) {
        let worker = DropWorker(name: "prio", capacity: .unbounded, priority: priority)
        #expect(schedulingClassOfThread(destroyingOn: worker) == Int32(expected))
    }

    @Test("a change reaches a running, sleeping worker before its next value")
    func changeWhileRunning() {
        let worker = DropWorker(name: "prio-change", capacity: .unbounded)
        #expect(schedulingClassOfThread(destroyingOn: worker) == Int32(DEFERDROP_SCHED_BATCH))
        worker.priority = .normal
        #expect(schedulingClassOfThread(destroyingOn: worker) == Int32(DEFERDROP_SCHED_NORMAL))
        worker.priority = .batch
        #expect(schedulingClassOfThread(destroyingOn: worker) == Int32(DEFERDROP_SCHED_BATCH))
        // Lowering to idle is always allowed (raising it back needs a privilege).
        worker.priority = .idle
        #expect(schedulingClassOfThread(destroyingOn: worker) == Int32(DEFERDROP_SCHED_IDLE))
        #expect(worker.priority == .idle)
    }

    @Test("the producer's own scheduling class is untouched")
    func producerUntouched() {
        let before = onNewThread { _deferdrop_current_thread_scheduling() }
        let after = onNewThread { () -> Int32 in
            let worker = DropWorker(name: "prio-producer", capacity: .unbounded, priority: .idle)
            worker.dispose([1, 2, 3])
            worker.flush()
            return _deferdrop_current_thread_scheduling()
        }
        #expect(before == after)
    }
}
