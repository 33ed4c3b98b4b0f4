import _DeferDropShims

// What a queue says about itself when something waits too long for it: for the
// fork tests' children and debugging. Never on a hot path.

extension _DropQueue {
    /// Takes the lock only if it is free within a bounded number of tries: a
    /// diagnosis must not hang on the lock it may be diagnosing.
    var diagnosis: String {
        let bits = handoff.status.load(ordering: .relaxed)
        let shared = """
            status bits \(Self.describe(status: bits)), wake-up semaphore \(handoff.pendingWakeUps), \
            destroyed inline \(destroyedInline.load(ordering: .relaxed)), \
            busy \(Self.describe(busySince: busySince.beginning ?? 0))
            """
        // Whether the thread exists is a system call: asked after the lock.
        // A struct, not a tuple: a fork child may diagnose, and a tuple type's
        // metadata is made under a runtime lock the fork may have left held.
        let locked: _LockedDiagnosis? = state.withLockIfAvailable(attempts: 10_000) { state in
            let phase = switch state.phase {
            case .notStarted: "not started"
            case .running(let barriers, let roomWaiters):
                "running (\(barriers.count) barriers, \(roomWaiters.count) producers waiting for room)"
            case .stopping(let barriers, let untilStopped):
                "stopping (\(barriers.count) barriers, \(untilStopped.count) waiting for the stop)"
            case .stopped: "stopped"
            }
            let destroyer = switch state.destroyer {
            case .nobody: "nobody"
            case .worker: "the worker"
            case .producer: "a producer"
            }
            let text = """
                \(phase), pending \(state.counts.pending) (queued \(state.counts.queued), \
                destroyed \(state.counts.destroyedFromQueue)), in the queue \(state.queued.valueCount), \
                in lanes \(state.valuesInLanes) over \(state.lanes.count) lanes, \
                behind \(state.isBehind), destroying: \(destroyer), \
                drained by producers \(state.counts.drainedByProducers), \
                priority \(state.priority)
                """
            return _LockedDiagnosis(text: text, thread: state.workerThreadID)
        }
        guard let locked else { return "DropWorker \"\(name)\": lock held by another thread; \(shared)" }
        let thread = locked.thread
        let threadText: String
        switch (thread, thread.map(_deferdrop_thread_exists)) {
        case (nil, _): threadText = "never started"
        case (let id?, 1): threadText = "\(id) (exists)"
        case (let id?, 0): threadText = "\(id) (gone)"
        case (let id?, _): threadText = "\(id)"
        }
        return "DropWorker \"\(name)\": \(locked.text), worker thread \(threadText); \(shared)"
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

    private static func describe(busySince since: UInt64) -> String {
        guard since != 0 else { return "no (idle)" }
        let age = _deferdrop_coarse_monotonic_ns() &- since
        return "for \(age / 1_000_000) ms"
    }
}

private struct _LockedDiagnosis {
    var text: String
    var thread: UInt64?
}
