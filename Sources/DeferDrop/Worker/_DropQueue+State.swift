import _DeferDropShims

// The state a worker and its producers share, under the queue's one lock,
// and the decisions taken under it (see `_DropQueue`).

extension _DropQueue {
    enum Lifecycle: Sendable {
        /// No thread yet: the first value handed over starts one.
        case idle
        /// The worker thread exists and takes values.
        case running
        /// `shutdown()` was called: the worker destroys everything queued, then
        /// stops. It goes on taking values handed over by its own destructors.
        case stopping
        /// The worker has stopped: every value is destroyed by whoever hands it over.
        case stopped
    }

    /// How far the worker must get before a waiter may go on.
    enum WaitPoint: Sendable {
        /// Until the first `count` values ever queued have been destroyed.
        case destroyed(count: UInt64)
        /// Until the worker has drained its queue and stopped.
        case stopped
    }

    /// Who is destroying values taken from the head of the queue
    /// (`State.destroyer`): at most one at a time, so that values are
    /// destroyed in the order they were queued.
    enum Destroyer {
        case nobody
        /// The worker, its batch.
        case worker
        /// A producer that found a time-bounded worker behind, draining the
        /// queue for it (which one: `_ThreadRole.isDraining`).
        case producer
    }

    /// Noncopyable, as the queue it holds is.
    struct State: ~Copyable, Sendable {
        /// The status word that holds `isBehind` and `destroyer`, which
        /// producers read without the lock: their one home. Only the lock's
        /// holder writes them.
        let handoff: _Handoff
        var lifecycle = Lifecycle.idle
        /// The capacity as last set (`DropWorker.capacity`); `policyWord`
        /// holds the policy it makes, for producers to read without the lock.
        var capacity: DropCapacity
        /// The scheduling class the worker's thread should run in; it checks
        /// before each batch.
        var priority: DropPriority
        /// Whether `priority` is the capacity's default and changes with it:
        /// until a priority is given, at creation or later.
        var priorityFollowsCapacity: Bool
        /// Whether the handler at process exit drains this queue.
        var drainsAtExit = true
        /// Producers waiting for room in a bounded queue, each on its own semaphore.
        var roomWaiters: [_Semaphore] = []
        /// The values queued, as runs of lane positions, oldest first.
        var queued: [_Lane.Segment] = []
        /// The lanes that their threads append to without the lock, collected
        /// into `queued` by whoever holds it. A lane appended to only under
        /// the lock is collected by that hand-off and empty whenever the lock
        /// is free: it is not listed.
        var lanes: [_Lane] = []
        /// What was queued, destroyed and freed (`_Counts`).
        var counts = _Counts(reclaimedBytes: _ThreadFreedBytes.isAvailable ? 0 : nil)
        /// Who holds values taken from the head of the queue and not yet
        /// published as destroyed or given back.
        var destroyer: Destroyer {
            get {
                let status = handoff.status.load(ordering: .relaxed)
                if status & _Handoff.Status.workerHasBatch != 0 { return .worker }
                return status & _Handoff.Status.producerDrains != 0 ? .producer : .nobody
            }
            nonmutating set {
                let bits = switch newValue {
                case .nobody: UInt8(0)
                case .worker: _Handoff.Status.workerHasBatch
                case .producer: _Handoff.Status.producerDrains
                }
                handoff.update(_Handoff.Status.workerHasBatch | _Handoff.Status.producerDrains, to: bits)
            }
        }
        var waiters: [(point: WaitPoint, waiter: _Waiter)] = []
        /// The system's id of the last thread that ran this queue's worker,
        /// `nil` before the first: for a diagnosis only (`_DropQueue.diagnosis`),
        /// which tells whether that thread still exists where the system can.
        var workerThreadID: UInt64?

        /// Registers the calling thread to wait until the worker has stopped,
        /// on the semaphore it returns.
        mutating func waitUntilStopped() -> _Semaphore {
            let stopped = _Semaphore()
            waiters.append((.stopped, .thread(stopped)))
            return stopped
        }

        /// Removes and returns the waiters whose point has been reached.
        mutating func takeReadyWaiters() -> [_Waiter] {
            guard !waiters.isEmpty else { return [] }
            var ready: [_Waiter] = []
            let destroyed = counts.destroyedFromQueue
            let isStopped = if case .stopped = lifecycle { true } else { false }
            waiters.removeAll { entry in
                let reached = switch entry.point {
                case .destroyed(let count): destroyed >= count
                case .stopped: isStopped
                }
                if reached { ready.append(entry.waiter) }
                return reached
            }
            return ready
        }

        /// Called when the worker's own thread queues a value, which only a
        /// destructor in its current batch can do. Every waiting barrier covers
        /// part of that batch (a barrier already passed is no longer stored),
        /// so each now covers the new value too: `flush()` also waits for the
        /// values that the destructors of the values it covers hand over.
        /// (Tracked per batch, not per value: a barrier may wait for a little
        /// more than it must, never for less.)
        mutating func extendBarriersOverNestedValue() {
            for index in waiters.indices {
                if case .destroyed(let count) = waiters[index].point {
                    waiters[index].point = .destroyed(count: max(count, counts.queued))
                }
            }
        }

        /// Before the calling thread's first append to its lane without the
        /// lock: marks the lane so and lists it among the lanes whoever holds
        /// the lock collects, so that the worker's next decision to sleep or
        /// stop sees it and fences before its last look. Until then the lane
        /// was appended to only under the lock, which collected it at once
        /// and orders those appends with the worker's announcement: nothing
        /// needs to look at it.
        mutating func join(_ lane: _Lane) {
            _deferdrop_lane_allow_appends_without_lock(lane.raw)
            lanes.append(lane)
        }

        /// Queues the listed lanes' published values, each lane's in its
        /// order, and forgets the lanes of threads that have ended once
        /// every value is collected. Lanes belong to their producers once
        /// the worker has stopped: nothing is collected then.
        mutating func collectLanes() {
            guard !lanes.isEmpty else { return }
            if case .stopped = lifecycle { return }
            var anyEnded = false
            for lane in lanes {
                collect(lane)
                anyEnded = anyEnded || lane.ownerHasEnded.load(ordering: .acquiring)
            }
            if anyEnded {
                lanes.removeAll { $0.ownerHasEnded.load(ordering: .acquiring) && $0.uncollected == 0 }
            }
        }

        /// Values in the listed lanes, not yet collected: for the statistics.
        var valuesInLanes: UInt64 {
            lanes.reduce(0) { $0 + $1.uncollected }
        }

        /// Queues the values published in `lane`, in their order, and counts
        /// them: every value reaches the queue this way.
        mutating func collect(_ lane: _Lane) {
            guard let segment = lane.collect() else { return }
            queued.append(collected: segment)
            counts.addQueued(segment.count)
        }

        /// Puts back the values left in `batch`, which the holder of the
        /// queue's head took and did not finish, ahead of every value queued
        /// since, in their order; leaves `batch` empty. Returns whether any
        /// value was put back.
        @discardableResult
        mutating func giveBack(_ batch: inout [_Lane.Segment]) -> Bool {
            guard !batch.isEmpty else { return false }
            queued.insert(contentsOf: batch, at: 0)
            batch.removeAll(keepingCapacity: true)
            return true
        }

        /// Removes and returns the producers waiting for room, if there is room now.
        mutating func takeRoomWaiters(bound: UInt64) -> [_Semaphore] {
            guard !roomWaiters.isEmpty, counts.pending < bound else { return [] }
            return takeRoomWaiters()
        }

        /// Removes and returns every producer waiting for room, to try again.
        mutating func takeRoomWaiters() -> [_Semaphore] {
            defer { roomWaiters = [] }
            return roomWaiters
        }



        /// The worker's batch: takes every queued value into `batch`, oldest
        /// first, and holds the head of the queue while it has any. The
        /// worker's hold on its last batch ends here, or where it stands
        /// aside: its bit changes only when whether it holds does.
        mutating func takeQueueForWorker(into batch: inout [_Lane.Segment]) {
            swap(&queued, &batch)
            destroyer = batch.isEmpty ? .nobody : .worker
        }

    }
}
