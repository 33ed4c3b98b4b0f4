import _DeferDropShims
import Synchronization

/// The hand-off between any number of producers and one worker thread, and the
/// worker thread's loop.
///
/// The worker's state lives in one `State` under one lock: the phase, the
/// queue, the counters and the threads waiting in `flush()` or `shutdown()`.
/// The critical sections are a few stores: the lock is never held while a
/// value is destroyed, a thread is woken or a waiter resumed. What producers
/// read without the lock is the policy word and the hand-off's `status`:
/// whether the worker sleeps or runs, and the state's two facts that the
/// time bound reads (whether the worker is behind, who holds the head of
/// the queue), which live there and nowhere else.
///
/// Every queued value travels one way: appended to the calling thread's lane,
/// collected into the queue by whoever holds the lock, taken by the worker in
/// a batch and destroyed with the lock released. The policy decides at the
/// producer's admission, before the append, and at the worker's batch
/// boundary (`_DropQueue+WorkerLoop`); the rest of the way is the same under
/// every policy.
///
/// Why producers stay cheap:
/// - a plain hand-off's admission takes no lock: it reads the policy and
///   `status`, appends, and reads `status` again (`_DropQueue+Admission`, `_Handoff`);
/// - a producer pays for a wake-up (one `sem_post` system call) only when the
///   worker has announced that it is going to sleep. While the worker is
///   busy, hand-offs make no system call at all;
/// - the worker never polls: when the queue is empty it sleeps on a semaphore
///   until a producer, `shutdown()` or `deinit` posts it.
///
/// The admission under the lock (`enqueueAdmittedUnderLock`) takes the rest: a
/// count bound's hand-offs, ordered ones (`orderedAcrossThreads`), the
/// worker's own, and those `status` sends there (not running, a time-bounded
/// worker behind, or a producer draining). It may destroy the value inline,
/// wait for room, or drain the queue first; a value it queues it appends to
/// the caller's lane and collects before it lets go of the lock.
///
/// A value handed over by a destructor that this queue's own worker is running
/// is destroyed right there, depth first, as the Rust crate does, up to
/// `maximumNestingDepth` levels; deeper ones are queued, so that a chain of any
/// length cannot overflow the worker's stack.
///
/// With a bound (`DropCapacity.bounded`), a producer that finds the worker full
/// registers a semaphore of its own under the lock and sleeps on it; the
/// worker publishes its progress every sixteenth of the bound, not once per
/// batch (`publicationStride`), and wakes the waiting producers once there
/// is room. An unbounded queue never takes that path.
@usableFromInline
final class _DropQueue: Sendable {
    /// The name the worker's thread carries, already cut to the OS limit.
    let threadName: String
    /// The public name, for messages.
    let name: String
    /// The capacity's policy, encoded (`_DropPolicy.word`): written only
    /// under the lock, read anywhere. Read it through `policy`.
    let policyWord: Atomic<UInt64>
    /// Where the worker reports its metrics; `nil` without the `Metrics` trait.
    let metrics: _WorkerMetrics?

    let state: _Lock<State>
    /// Values destroyed by their producer: the worker had stopped, was full,
    /// was behind, or (with a time bound) its lock was busy. Counted without
    /// the lock, so that a producer that gives up on the worker never waits
    /// for it. Each counts as handed over and destroyed at once.
    let destroyedInline = Atomic<UInt64>(0)
    /// Whether the worker's thread is inside its critical section right now:
    /// with a time bound, a producer that finds the lock busy and this set
    /// does not wait (see `enqueue`). A hint, read and written relaxed.
    let workerHoldsLock = Atomic<Bool>(false)
    /// The lanes, the status word and the eventcount (`_Handoff`).
    let handoff = _Handoff()
    /// With a time bound: since when the worker has been busy (`_TimeBound.swift`).
    let busySince = _BusySince()
    /// The class the worker's thread reported itself in after it last applied
    /// its priority (a `DEFERDROP_CLASS_` number), -1 before it first did.
    /// Written by the worker's thread only; read by `DropWorker.schedulingClass`.
    let schedulingClass = Atomic<Int32>(-1)

    /// How many values, one inside another's destructor, the worker destroys
    /// in place before it queues the next instead (`DropWorker.maximumNestingDepth`).
    static let maximumNestingDepth = 64

    init(
        name: String, threadName: String, capacity: DropCapacity, owner: String, priority: DropPriority?,
        metrics: _WorkerMetrics?
    ) {
        self.name = name
        self.threadName = threadName
        policyWord = Atomic(_DropPolicy(capacity, owner: owner).word)
        self.metrics = metrics
        state = _Lock(State(handoff: handoff, capacity: capacity, givenPriority: priority))
        keepAcrossFork()
        _ProcessLifecycle.shared.register(self)
    }

    deinit {
        _ProcessLifecycle.shared.unregister(ObjectIdentifier(self))
    }

    // MARK: Settings

    /// The policy in force: one relaxed load. Under the lock, the one the
    /// lock's holder decides under; elsewhere, possibly the one before a
    /// change that is under way.
    var policy: _DropPolicy {
        _DropPolicy(word: policyWord.load(ordering: .relaxed))
    }

    /// The capacity last set, as given.
    var capacity: DropCapacity {
        state.withLock { $0.capacity }
    }

    /// Changes the capacity (`DropWorker.capacity`) for the hand-offs that
    /// follow; `owner` names the property in a precondition's message.
    ///
    /// Pending values stay queued, in order. Producers waiting for room try
    /// again under the new policy. When a time bound is lifted, the worker
    /// is no longer behind, and a producer draining the queue finishes its
    /// drain while the worker waits; when one is set, the worker is busy
    /// from now if it holds values. A producer that read the old
    /// policy on the lock-free way may still put its value in its lane,
    /// which the worker and every locked hand-off collect under any policy.
    /// A worker whose priority follows its capacity takes the new one's.
    func setCapacity(_ capacity: DropCapacity, owner: String) {
        let policy = _DropPolicy(capacity, owner: owner)
        let signals = state.withLock { state in
            let wasTimeBounded = self.policy.maximumWait != nil
            state.capacity = capacity
            policyWord.store(policy.word, ordering: .relaxed)
            if policy.maximumWait == nil {
                state.isBehind = false
                busySince.end()
            } else if !wasTimeBounded {
                let isBusy = state.destroyer == .worker || !state.queued.isEmpty
                if isBusy { busySince.begin() } else { busySince.end() }
            }
            // Producers waiting for room try again; a worker asleep or
            // waiting while producers drain reads the new policy and priority.
            return Signals(room: state.takeRoomWaiters(), wakeWorker: handoff.claimWakeUp())
        }
        signal(signals)
    }

    var priority: DropPriority {
        get { state.withLock { $0.priority } }
        set {
            // A sleeping worker wakes to apply it now, and sleeps again.
            signal(
                state.withLock { state in
                    state.givenPriority = newValue
                    return Signals(wakeWorker: handoff.claimWakeUp())
                })
        }
    }

    var drainsAtExit: Bool {
        get { state.withLock { $0.drainsAtExit } }
        set { state.withLock { $0.drainsAtExit = newValue } }
    }

    // MARK: Signalling after the lock

    /// What a critical section found to signal: it returns this, and the
    /// caller signals it after letting go of the lock (`signal(_:)`), so that
    /// no thread is woken or resumed under it. A struct, not a tuple: see
    /// `WorkerDecision`.
    struct Signals {
        /// Barrier waiters whose point was reached.
        var ready: [_Waiter] = []
        /// Producers waiting for room in a count bound, which there is now,
        /// or which a change of capacity or a shutdown sends to try again.
        var room: [_Semaphore] = []
        /// Whether this section claimed the worker's wake-up.
        var wakeWorker = false
        /// Whether this section moved an idle queue to running or stopping,
        /// whose thread is yet to start.
        var startWorker = false
    }

    /// Signals what a critical section returned, with the lock let go: the
    /// one place where waiting threads and tasks are resumed.
    func signal(_ signals: Signals) {
        if signals.startWorker { startWorkerThread() }
        for producer in signals.room { producer.signal() }
        if !signals.ready.isEmpty {
            // Whoever waited may read the allocator's statistics next: give
            // this thread's cached free blocks back first, so they show.
            _ThreadFreedBytes.flushCurrentThreadCache()
            for waiter in signals.ready { waiter.resume() }
        }
        if signals.wakeWorker { handoff.wake() }
    }

    // MARK: Statistics

    var statistics: DropStatistics {
        state.withLock { state in
            let destroyedInline = destroyedInline.load(ordering: .relaxed)
            let counts = state.counts
            return DropStatistics(
                deferred: counts.deferred + state.valuesInLanes + destroyedInline,
                destroyed: counts.destroyed + destroyedInline,
                peakPending: counts.peakPending,
                reclaimedBytes: counts.reclaimedBytes,
                destroyedInline: destroyedInline + counts.drainedByProducers,
                releasedElsewhere: counts.releasedElsewhere)
        }
    }

}

// MARK: The state under the lock

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

// MARK: The policy

/// A worker's capacity as its hand-off reads it: a count bound, a time bound in
/// nanoseconds, or none. It is one word, written only under the queue's lock and
/// read by producers with a relaxed load: a producer without the lock may act on
/// the policy before a change, which `_DropQueue.setCapacity` allows for.
enum _DropPolicy: Sendable, Equatable {
    case unbounded
    case bounded(count: UInt64, whenFull: OverflowPolicy)
    case timeBounded(maximumWait: UInt64)

    /// The policy of `capacity`, after checking it; `owner` names the
    /// initializer or property in the message.
    init(_ capacity: DropCapacity, owner: String) {
        if let bound = capacity._checkedBound(for: owner) {
            self = .bounded(count: min(bound.count, Self.largest), whenFull: bound.policy)
        } else if let maximumWait = capacity._checkedMaximumWait(for: owner) {
            self = .timeBounded(maximumWait: min(maximumWait, Self.largest))
        } else {
            self = .unbounded
        }
    }

    /// The count bound and what a full queue does, or `nil`.
    var bound: (count: UInt64, policy: OverflowPolicy)? {
        guard case .bounded(let count, let policy) = self else { return nil }
        return (count, policy)
    }

    /// The time bound in nanoseconds, or `nil`.
    var maximumWait: UInt64? {
        guard case .timeBounded(let maximumWait) = self else { return nil }
        return maximumWait
    }

    /// Whether a producer's admission may go without the lock: a count bound needs
    /// the exact number pending, which only the lock has.
    var admitsWithoutLock: Bool {
        if case .bounded = self { false } else { true }
    }

    // The word: the kind in the top two bits, the count or nanoseconds in the rest.

    private static let largest: UInt64 = (1 << 62) - 1

    var word: UInt64 {
        switch self {
        case .unbounded: 0
        case .timeBounded(let maximumWait): 1 << 62 | maximumWait
        case .bounded(let count, .destroyInline): 2 << 62 | count
        case .bounded(let count, .block): 3 << 62 | count
        }
    }

    init(word: UInt64) {
        let value = word & Self.largest
        switch word >> 62 {
        case 0: self = .unbounded
        case 1: self = .timeBounded(maximumWait: value)
        case 2: self = .bounded(count: value, whenFull: .destroyInline)
        default: self = .bounded(count: value, whenFull: .block)
        }
    }
}
