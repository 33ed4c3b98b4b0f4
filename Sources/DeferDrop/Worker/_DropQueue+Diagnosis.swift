import _DeferDropShims

// What a queue says about itself when something waits too long for it: for the
// fork tests' children and debugging. Never on a hot path.

extension _DropQueue {
    /// Takes the lock only if it is free within a bounded number of tries: a
    /// diagnosis must not hang on the lock it may be diagnosing.
    var diagnosis: String {
        let unlocked = """
            status bits \(Self.describe(status: handoff.status.load(ordering: .relaxed))), \
            wake-up semaphore \(handoff.pendingWakeUps), destroyed inline \(destroyedInline.load(ordering: .relaxed)), \
            busy \(Self.describe(busySince: busySince.beginning))
            """
        // Results through variables, not a tuple: see `WorkerDecision`. Whether
        // the thread exists is a system call: asked after the lock.
        var thread: UInt64?
        let locked = state.withLockIfAvailable(attempts: 10_000) { state in
            thread = state.workerThreadID
            return state.diagnosis
        }
        guard let locked else { return "DropWorker \"\(name)\": lock held by another thread; \(unlocked)" }
        return "DropWorker \"\(name)\": \(locked), worker thread \(Self.describe(thread: thread)); \(unlocked)"
    }

    private static func describe(status bits: UInt8) -> String {
        var set: [String] = []
        if bits & _Handoff.Status.sleeping != 0 { set.append("sleeping") }
        if bits & _Handoff.Status.notRunning != 0 { set.append("notRunning") }
        if bits & _Handoff.Status.behind != 0 { set.append("behind") }
        if bits & _Handoff.Status.workerHasBatch != 0 { set.append("workerHasBatch") }
        if bits & _Handoff.Status.producerDrains != 0 { set.append("producerDrains") }
        return set.isEmpty ? "none" : set.joined(separator: "|")
    }

    private static func describe(busySince beginning: UInt64?) -> String {
        guard let beginning else { return "no (idle)" }
        return "for \((_deferdrop_coarse_monotonic_ns() &- beginning) / 1_000_000) ms"
    }

    /// Whether the thread still exists is known on Linux only: elsewhere, the id alone.
    private static func describe(thread id: UInt64?) -> String {
        guard let id else { return "never started" }
        return switch _deferdrop_thread_exists(id) {
        case 1: "\(id) (exists)"
        case 0: "\(id) (gone)"
        default: "\(id)"
        }
    }
}

extension _DropQueue.State {
    /// What the queue's lock protects, read under it.
    var diagnosis: String {
        let phase = switch self.phase {
        case .notStarted: "not started"
        case .running(let barriers, let roomWaiters):
            "running (\(barriers.count) barriers, \(roomWaiters.count) producers waiting for room)"
        case .stopping(let barriers, let untilStopped):
            "stopping (\(barriers.count) barriers, \(untilStopped.count) waiting for the stop)"
        case .stopped: "stopped"
        }
        let destroyer = switch self.destroyer {
        case .nobody: "nobody"
        case .worker: "the worker"
        case .producer: "a producer"
        }
        return """
            \(phase), pending \(counts.pending) (queued \(counts.queued), destroyed \(counts.destroyedFromQueue)), \
            in the queue \(queued.valueCount), in lanes \(valuesInLanes) over \(lanes.count) lanes, \
            behind \(isBehind), destroying: \(destroyer), drained by producers \(counts.drainedByProducers), \
            priority \(priority)
            """
    }
}
