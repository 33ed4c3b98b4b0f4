import DeferDrop
import DeferDropTestSupport
import Testing
import _DeferDropShims
import _DeferDropTestShims

@Suite("Worker priority")
struct PriorityTests {
    @Test("the default capacity runs at batch, the shared worker too; a time-bounded one at idle")
    func defaultPriorityFollowsCapacity() {
        let worker = DropWorker(name: "prio-default")
        #expect(worker.capacity == .default)
        #expect(worker.priority == .batch)
        #expect(schedulingClassOfThread(destroyingOn: worker) == DropPriority.batch.observedSchedulingClass)
        #expect(DropWorker.shared.capacity == .default)
        #expect(DropWorker.shared.priority == .batch)
        #expect(schedulingClassOfThread(destroyingOn: DropWorker.shared) == DropPriority.batch.observedSchedulingClass)
        let server = DropWorker(name: "prio-server", capacity: .server)
        #expect(server.priority == .idle)
        #expect(schedulingClassOfThread(destroyingOn: server) == DropPriority.idle.observedSchedulingClass)
        let strict = DropWorker(name: "prio-strict", capacity: .unbounded)
        #expect(strict.priority == .batch)
        #expect(schedulingClassOfThread(destroyingOn: strict) == DropPriority.batch.observedSchedulingClass)
        let counted = DropWorker(name: "prio-counted", capacity: .bounded(8, whenFull: .block))
        #expect(counted.priority == .batch)
        #expect(DropWorker(name: "prio-timed", capacity: .timeBounded(maximumWait: .seconds(1))).priority == .idle)
        #expect(DropWorker(name: "prio-given", priority: .normal).priority == .normal)
    }

    @Test(
        "each priority is the thread's scheduling class, and the worker reports it",
        arguments: [DropPriority.normal, .batch, .idle])
    func priorityIsApplied(priority: DropPriority) {
        let worker = DropWorker(name: "prio", capacity: .unbounded, priority: priority)
        #expect(worker.schedulingClass == nil, "no thread yet")
        #expect(schedulingClassOfThread(destroyingOn: worker) == priority.observedSchedulingClass)
        #expect(worker.schedulingClass == priority.schedulingClass)
    }

    @Test("a change reaches a running, sleeping worker before its next value")
    func changeWhileRunning() {
        let worker = DropWorker(name: "prio-change", capacity: .unbounded)
        #expect(schedulingClassOfThread(destroyingOn: worker) == DropPriority.batch.observedSchedulingClass)
        worker.priority = .normal
        #expect(schedulingClassOfThread(destroyingOn: worker) == DropPriority.normal.observedSchedulingClass)
        #expect(worker.schedulingClass == DropPriority.normal.schedulingClass)
        worker.priority = .batch
        #expect(schedulingClassOfThread(destroyingOn: worker) == DropPriority.batch.observedSchedulingClass)
        // Lowering to idle is always allowed (raising it back needs a privilege).
        worker.priority = .idle
        #expect(schedulingClassOfThread(destroyingOn: worker) == DropPriority.idle.observedSchedulingClass)
        #expect(worker.schedulingClass == DropPriority.idle.schedulingClass)
        #expect(worker.priority == .idle)
    }

    @Test("the producer's own scheduling class is untouched")
    func producerUntouched() {
        let before = onNewThread { schedulingClassOfCurrentThread() }
        let after = onNewThread { () -> DropSchedulingClass in
            let worker = DropWorker(name: "prio-producer", capacity: .unbounded, priority: .idle)
            worker.dispose([1, 2, 3])
            worker.flush()
            return schedulingClassOfCurrentThread()
        }
        #expect(before == after)
    }

    @Test("each priority maps to this platform layer's classes: Linux's policies, or none in the POSIX-only layer")
    func classesOfThisLayer() {
        let priorities: [DropPriority] = [.normal, .batch, .idle]
        let classes = priorities.map(\.schedulingClass)
        switch _PlatformLayer.current {
        case .linux: #expect(classes == [.linuxOther, .linuxBatch, .linuxIdle])
        case .darwin: #expect(classes == [.qosDefault, .qosUtility, .qosBackground])
        case .posixOnly: #expect(classes == [.unchanged, .unchanged, .unchanged])
        }
        #expect(DropSchedulingClass.linuxBatch.description == "SCHED_BATCH")
        #expect(DropSchedulingClass.qosBackground.description == "QOS_CLASS_BACKGROUND")
    }
}
