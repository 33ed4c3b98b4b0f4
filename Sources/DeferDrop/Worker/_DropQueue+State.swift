import _DeferDropShims

// The state a worker and its producers share, under the queue's one lock,
// and the decisions taken under it (see `_DropQueue`).

extension _DropQueue {
    /// Where the worker is in its life, with who waits on it there: what
    /// exists only in one phase is carried by that phase.
    enum Phase {
        /// No thread yet: the first hand-off starts one (or a barrier on
        /// values that a fork child inherited).
        case notStarted
        /// The worker's thread takes values. `roomWaiters` are producers
        /// waiting for room in a count bound, each on its own semaphore.
        case running(barriers: [Barrier], roomWaiters: [_Semaphore])
        /// `shutdown()` was called: the worker destroys everything queued,
        /// and what its own destructors hand over, then stops, and
        /// `untilStopped` go on. Other hand-offs wait for that too.
        case stopping(barriers: [Barrier], untilStopped: [_Waiter])
        /// The worker has stopped: every value is destroyed by whoever
        /// hands it over, and lanes are their producers' again.
        case stopped
    }

    /// A waiter until the first `count` values queued have been destroyed
    /// (`flush()`). A struct, not a tuple: see `WorkerDecision`.
    struct Barrier {
        var count: UInt64
        let waiter: _Waiter
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

    struct State: ~Copyable, Sendable {
        /// The status word, which producers read without the lock, and the
        /// one home of `isBehind` and `destroyer`. Only the lock's holder
        /// writes them.
        let handoff: _Handoff
        var phase = Phase.notStarted
        /// The capacity as last set (`DropWorker.capacity`); `policyWord`
        /// holds the policy it makes, for producers to read without the lock.
        var capacity: DropCapacity
        /// The priority given at creation or later; `nil` while the worker
        /// runs at its capacity's default.
        var givenPriority: DropPriority?
        /// Whether the handler at process exit drains this queue.
        var drainsAtExit = true
        /// The values queued, as runs of lane positions, oldest first.
        var queued: [_Lane.Segment] = []
        /// The lanes that their threads append to without the lock, collected
        /// into `queued` by whoever holds it. A lane appended to only under
        /// the lock is collected by that hand-off and empty whenever the lock
        /// is free: it is not listed.
        var lanes: [_Lane] = []
        /// What was queued, destroyed and freed (`_Counts`).
        var counts = _Counts(reclaimedBytes: _ThreadFreedBytes.isAvailable ? 0 : nil)
        /// The system's id of the last thread that ran this queue's worker,
        /// `nil` before the first: for a diagnosis only (`_DropQueue.diagnosis`).
        var workerThreadID: UInt64?

        /// The scheduling class the worker's thread runs in; it checks
        /// before each batch.
        var priority: DropPriority {
            givenPriority ?? capacity.defaultPriority
        }

        var isRunning: Bool {
            if case .running = phase { true } else { false }
        }

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

        // MARK: Phases

        /// A shutdown begins: returns the producers that waited for room,
        /// which now wait for the drain instead.
        mutating func beginStopping() -> [_Semaphore] {
            switch phase {
            case .notStarted:
                phase = .stopping(barriers: [], untilStopped: [])
                return []
            case .running(let barriers, let roomWaiters):
                phase = .stopping(barriers: barriers, untilStopped: [])
                return roomWaiters
            case .stopping, .stopped:
                return []
            }
        }

        /// The worker has destroyed every value and stops: returns everyone
        /// who waited, every barrier reached.
        mutating func stop() -> [_Waiter] {
            guard case .stopping(let barriers, let untilStopped) = phase else { return [] }
            phase = .stopped
            var waiters = untilStopped
            for barrier in barriers { waiters.append(barrier.waiter) }
            return waiters
        }

        /// Registers the calling thread to wait until the worker has stopped,
        /// on the semaphore it returns. Only while stopping.
        mutating func waitUntilStopped() -> _Semaphore {
            let stopped = _Semaphore()
            addStopWaiter(.thread(stopped))
            return stopped
        }

        /// Registers `waiter` to go on once the worker has stopped. Only while stopping.
        mutating func addStopWaiter(_ waiter: _Waiter) {
            guard case .stopping(let barriers, var untilStopped) = phase else {
                fatalError("DeferDrop: a wait for a stop that is not under way")
            }
            phase = .notStarted
            untilStopped.append(waiter)
            phase = .stopping(barriers: barriers, untilStopped: untilStopped)
        }

        // MARK: Barriers

        /// Runs `body` on the barriers of a running or stopping worker, and
        /// returns what it returns; `nil` in the other phases, which have none.
        ///
        /// The phase is cleared while `body` runs, so that the array is not
        /// shared and changes in place.
        private mutating func modifyBarriers<Result>(_ body: (inout [Barrier]) -> Result) -> Result? {
            switch phase {
            case .running(var barriers, let roomWaiters):
                phase = .notStarted
                defer { phase = .running(barriers: barriers, roomWaiters: roomWaiters) }
                return body(&barriers)
            case .stopping(var barriers, let untilStopped):
                phase = .notStarted
                defer { phase = .stopping(barriers: barriers, untilStopped: untilStopped) }
                return body(&barriers)
            case .notStarted, .stopped:
                return nil
            }
        }

        /// Registers `barrier`: the worker runs or stops.
        mutating func add(_ barrier: Barrier) {
            let added: Void? = modifyBarriers { $0.append(barrier) }
            _precondition(added != nil, "DeferDrop: a barrier on a worker that does not run")
        }

        /// Removes the barrier of a thread waiting on `semaphore`; returns
        /// whether it was there.
        mutating func removeBarrier(waitingOn semaphore: _Semaphore) -> Bool {
            modifyBarriers { barriers in
                guard let index = barriers.firstIndex(where: { $0.waiter.isThread(waitingOn: semaphore) }) else {
                    return false
                }
                barriers.remove(at: index)
                return true
            } ?? false
        }

        /// Removes and returns the barriers reached.
        mutating func takeReachedBarriers() -> [_Waiter] {
            let destroyed = counts.destroyedFromQueue
            return modifyBarriers { barriers in
                guard !barriers.isEmpty else { return [] }
                var reached: [_Waiter] = []
                barriers.removeAll { barrier in
                    if barrier.count > destroyed { return false }
                    reached.append(barrier.waiter)
                    return true
                }
                return reached
            } ?? []
        }

        /// Called when the worker's own thread queues a value, which only a
        /// destructor in its current batch can do. Every waiting barrier covers
        /// part of that batch (a barrier already passed is no longer stored),
        /// so each now covers the new value too: `flush()` also waits for the
        /// values that the destructors of the values it covers hand over.
        /// (Tracked per batch, not per value: a barrier may wait for a little
        /// more than it must, never for less.)
        mutating func extendBarriersOverNestedValue() {
            let queued = counts.queued
            _ = modifyBarriers { barriers in
                for index in barriers.indices { barriers[index].count = max(barriers[index].count, queued) }
            }
        }

        // MARK: Room in a count bound

        /// Registers the calling producer to wait for room, on the semaphore
        /// it returns. Only while running.
        mutating func waitForRoom() -> _Semaphore {
            guard case .running(let barriers, var roomWaiters) = phase else {
                fatalError("DeferDrop: a wait for room on a worker that does not run")
            }
            let room = _Semaphore()
            phase = .notStarted
            roomWaiters.append(room)
            phase = .running(barriers: barriers, roomWaiters: roomWaiters)
            return room
        }

        /// Removes and returns the producers waiting for room, if there is
        /// room now under `bound`, or every one without a bound (to try again).
        mutating func takeRoomWaiters(bound: UInt64? = nil) -> [_Semaphore] {
            guard case .running(let barriers, let roomWaiters) = phase, !roomWaiters.isEmpty else { return [] }
            if let bound, counts.pending >= bound { return [] }
            phase = .running(barriers: barriers, roomWaiters: [])
            return roomWaiters
        }

        // MARK: The queue

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
            if case .stopped = phase { return }
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

        /// The worker's batch: takes every queued value into `batch`, oldest
        /// first, and holds the head of the queue while it has any. The
        /// worker's hold on its last batch ends here, or where it leaves the
        /// queue to producers: its bit changes only when whether it holds does.
        mutating func takeQueueForWorker(into batch: inout [_Lane.Segment]) {
            swap(&queued, &batch)
            destroyer = batch.isEmpty ? .nobody : .worker
        }
    }
}
