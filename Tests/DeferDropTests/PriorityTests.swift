import DeferDrop
import DeferDropTestSupport
import Testing
import _DeferDropShims

@Suite("Worker priority")
struct PriorityTests {
    @Test("a worker's thread runs in SCHED_BATCH by default, and the shared worker's too")
    func defaultIsBatch() {
        let worker = DropWorker(name: "prio-default")
        #expect(worker.priority == .batch)
        #expect(schedulingClassOfThread(destroyingOn: worker) == Int32(DEFERDROP_SCHED_BATCH))
        #expect(DropWorker.shared.priority == .batch)
        #expect(schedulingClassOfThread(destroyingOn: DropWorker.shared) == Int32(DEFERDROP_SCHED_BATCH))
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
        let worker = DropWorker(name: "prio-change")
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
