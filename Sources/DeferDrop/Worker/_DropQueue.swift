import _DeferDropShims
import Synchronization

/// The hand-off between any number of producers and one worker thread.
///
/// The worker's state is one `State` under one lock, held for a few stores
/// only: never while a value is destroyed, a thread woken or a waiter resumed
/// (`Signals`). Producers read without the lock only the policy word and the
/// hand-off's `status`. A queued value is appended to its thread's lane,
/// collected into the queue under the lock, taken by the worker in a batch and
/// destroyed with the lock released; the policy decides at the producer's
/// admission and at the worker's batch boundary. A plain hand-off takes no lock
/// and makes a system call only to wake a worker that announced sleep
/// (`_Handoff`). The full story: Docs/Architecture.md.
@usableFromInline
final class _DropQueue: Sendable {
    /// Already cut to the OS limit.
    let threadName: String
    let name: String
    /// `_DropPolicy.word`: written only under the lock, read anywhere through `policy`.
    let policyWord: Atomic<UInt64>
    /// Where the worker reports its metrics; `nil` without the `Metrics` trait.
    let metrics: _WorkerMetrics?

    let state: _Lock<State>
    /// Values destroyed by their producer, counted without the lock so that a
    /// producer that gives up on the worker never waits for it.
    let destroyedInline = Atomic<UInt64>(0)
    /// A relaxed hint that the worker is in its critical section: with a time
    /// bound, a producer that finds the lock busy and this set does not wait.
    let workerHoldsLock = Atomic<Bool>(false)
    let handoff = _Handoff()
    let busySince = _BusySince()
    /// The `DEFERDROP_CLASS_` the worker's thread last reported, -1 before;
    /// written by that thread only.
    let schedulingClass = Atomic<Int32>(-1)

    /// How deep the worker destroys nested hand-offs in place, depth first;
    /// deeper ones are queued, so a chain of any length cannot overflow its stack.
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

    /// One relaxed load: under the lock, the policy in force; elsewhere,
    /// possibly the one before a change under way.
    var policy: _DropPolicy {
        _DropPolicy(word: policyWord.load(ordering: .relaxed))
    }

    var capacity: DropCapacity {
        state.withLock { $0.capacity }
    }

    /// Pending values stay queued, in order. A producer that read the old
    /// policy without the lock may still append to its lane, which is
    /// collected under any policy.
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
            // Waiting producers and a parked worker read the new policy and priority.
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

    /// What a critical section found to signal, signalled after the lock is
    /// let go (`signal(_:)`). A struct, not a tuple: see `WorkerDecision`.
    struct Signals {
        var ready: [_Waiter] = []
        /// Producers waiting for room, to try again.
        var room: [_Semaphore] = []
        /// This section claimed the worker's wake-up.
        var wakeWorker = false
        /// This section left the queue running or stopping with no thread yet.
        var startWorker = false
    }

    /// The one place where waiting threads and tasks are resumed: with the lock let go.
    func signal(_ signals: Signals) {
        if signals.startWorker { startWorkerThread() }
        for producer in signals.room { producer.signal() }
        if !signals.ready.isEmpty {
            // A waiter may read the allocator's statistics next: give back
            // this thread's cached free blocks first.
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
    /// Where the worker is in its life; what exists in one phase only, that phase carries.
    enum Phase {
        /// No thread yet: the first hand-off, or a fork child's barrier, starts one.
        case notStarted
        /// `roomWaiters`: producers waiting for room in a count bound.
        case running(barriers: [Barrier], roomWaiters: [_Semaphore])
        /// The worker destroys everything queued, and what its destructors hand
        /// over, then stops; other hand-offs wait for that.
        case stopping(barriers: [Barrier], untilStopped: [_Waiter])
        /// Whoever hands a value over destroys it; lanes are their producers' again.
        case stopped
    }

    /// A waiter until the first `count` values queued are destroyed. A struct,
    /// not a tuple: see `WorkerDecision`.
    struct Barrier {
        var count: UInt64
        let waiter: _Waiter
    }

    /// Who destroys values taken from the head of the queue: at most one at a
    /// time, so that values are destroyed in the order they were queued.
    enum Destroyer {
        case nobody
        case worker
        /// A producer draining a time-bounded worker's queue (`_ThreadRole.isDraining`).
        case producer
    }

    struct State: ~Copyable, Sendable {
        /// The one home of `isBehind` and `destroyer`, which producers read
        /// without the lock; only the lock's holder writes them.
        let handoff: _Handoff
        var phase = Phase.notStarted
        var capacity: DropCapacity
        /// `nil`: the capacity's default.
        var givenPriority: DropPriority?
        var drainsAtExit = true
        /// Runs of lane positions, oldest first.
        var queued: [_Lane.Segment] = []
        /// The lanes appended to without the lock, which the lock's holder
        /// collects. A lane appended to only under the lock is collected by
        /// that hand-off, so it is not listed.
        var lanes: [_Lane] = []
        var counts = _Counts(reclaimedBytes: _ThreadFreedBytes.isAvailable ? 0 : nil)
        /// For a diagnosis only.
        var workerThreadID: UInt64?

        var priority: DropPriority {
            givenPriority ?? capacity.defaultPriority
        }

        var isRunning: Bool {
            if case .running = phase { true } else { false }
        }

        /// Who holds values taken from the head and not yet published or given back.
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

        /// Returns the producers that waited for room: they now wait for the drain.
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

        /// Returns everyone who waited: every barrier is reached.
        mutating func stop() -> [_Waiter] {
            guard case .stopping(let barriers, let untilStopped) = phase else { return [] }
            phase = .stopped
            var waiters = untilStopped
            for barrier in barriers { waiters.append(barrier.waiter) }
            return waiters
        }

        /// Only while stopping.
        mutating func waitUntilStopped() -> _Semaphore {
            let stopped = _Semaphore()
            addStopWaiter(.thread(stopped))
            return stopped
        }

        mutating func addStopWaiter(_ waiter: _Waiter) {
            guard case .stopping(let barriers, var untilStopped) = phase else {
                fatalError("DeferDrop: a wait for a stop that is not under way")
            }
            phase = .notStarted
            untilStopped.append(waiter)
            phase = .stopping(barriers: barriers, untilStopped: untilStopped)
        }

        // MARK: Barriers

        /// `nil` in the phases without barriers. The phase is cleared while
        /// `body` runs, so that the array is not shared and changes in place.
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

        mutating func add(_ barrier: Barrier) {
            let added: Void? = modifyBarriers { $0.append(barrier) }
            _precondition(added != nil, "DeferDrop: a barrier on a worker that does not run")
        }

        mutating func removeBarrier(waitingOn semaphore: _Semaphore) -> Bool {
            modifyBarriers { barriers in
                guard let index = barriers.firstIndex(where: { $0.waiter.isThread(waitingOn: semaphore) }) else {
                    return false
                }
                barriers.remove(at: index)
                return true
            } ?? false
        }

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

        /// The worker's thread queues a value only from a destructor in its
        /// batch, which every waiting barrier covers part of: so `flush()` also
        /// waits for what its values' destructors hand over. Per batch, not per
        /// value: a barrier may wait for a little more, never for less.
        mutating func extendBarriersOverNestedValue() {
            let queued = counts.queued
            _ = modifyBarriers { barriers in
                for index in barriers.indices { barriers[index].count = max(barriers[index].count, queued) }
            }
        }

        // MARK: Room in a count bound

        /// Only while running.
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

        /// The producers waiting for room, if there is room under `bound`, or
        /// every one without a bound (to try again).
        mutating func takeRoomWaiters(bound: UInt64? = nil) -> [_Semaphore] {
            guard case .running(let barriers, let roomWaiters) = phase, !roomWaiters.isEmpty else { return [] }
            if let bound, counts.pending >= bound { return [] }
            phase = .running(barriers: barriers, roomWaiters: [])
            return roomWaiters
        }

        // MARK: The queue

        /// Before a lane's first append without the lock: listed, so that the
        /// worker fences and looks at it last before it sleeps or stops.
        /// Appends under the lock need no such look: the lock collects them at
        /// once and orders them with the worker's announcement.
        mutating func join(_ lane: _Lane) {
            _deferdrop_lane_allow_appends_without_lock(lane.raw)
            lanes.append(lane)
        }

        /// Each lane's values in its order; forgets ended threads' lanes once
        /// empty. Once stopped, lanes are their producers': nothing is collected.
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

        var valuesInLanes: UInt64 {
            lanes.reduce(0) { $0 + $1.uncollected }
        }

        /// Every value reaches the queue, and its count, this way.
        mutating func collect(_ lane: _Lane) {
            guard let segment = lane.collect() else { return }
            queued.append(collected: segment)
            counts.addQueued(segment.count)
        }

        /// Puts what the head's holder left in `batch` back ahead of every
        /// value queued since, in order; returns whether there was any.
        @discardableResult
        mutating func giveBack(_ batch: inout [_Lane.Segment]) -> Bool {
            guard !batch.isEmpty else { return false }
            queued.insert(contentsOf: batch, at: 0)
            batch.removeAll(keepingCapacity: true)
            return true
        }

        /// Every queued value, for `taker` to destroy: it holds the head while
        /// `batch` has values. The worker's hold on its last batch ends here or
        /// where it leaves the queue to producers.
        mutating func takeQueue(into batch: inout [_Lane.Segment], by taker: Destroyer) {
            swap(&queued, &batch)
            destroyer = batch.isEmpty ? .nobody : taker
        }
    }
}

// MARK: The policy

/// A worker's capacity as one word, written only under the queue's lock and read
/// relaxed: a producer without the lock may act on the policy before a change,
/// which `_DropQueue.setCapacity` allows for.
enum _DropPolicy: Sendable, Equatable {
    case unbounded
    case bounded(count: UInt64, whenFull: OverflowPolicy)
    case timeBounded(maximumWait: UInt64)

    /// Stops the program on a `.bounded` count below 1 or a `.timeBounded` wait
    /// that is not positive; `owner`, the initializer or property given the
    /// capacity, names where in the message.
    init(_ capacity: DropCapacity, owner: String) {
        func site(_ value: String) -> String {
            owner.hasSuffix(".capacity") ? "\(owner) = \(value)" : "\(owner)(capacity: \(value))"
        }
        switch capacity {
        case .unbounded:
            self = .unbounded
        case .bounded(let count, let policy):
            _precondition(count >= 1, "\(site(".bounded(\(count), …)")): the capacity must be at least 1")
            self = .bounded(count: min(UInt64(count), Self.largest), whenFull: policy)
        case .timeBounded(let wait):
            _precondition(wait > .zero, "\(site(".timeBounded(maximumWait: \(wait))")): the wait must be positive")
            self = .timeBounded(maximumWait: min(wait._nanoseconds, Self.largest))
        }
    }

    var bound: (count: UInt64, policy: OverflowPolicy)? {
        guard case .bounded(let count, let policy) = self else { return nil }
        return (count, policy)
    }

    /// Nanoseconds.
    var maximumWait: UInt64? {
        guard case .timeBounded(let maximumWait) = self else { return nil }
        return maximumWait
    }

    /// A count bound needs the exact number pending, which only the lock has.
    var admitsWithoutLock: Bool {
        if case .bounded = self { false } else { true }
    }

    // The kind in the top two bits, the count or nanoseconds in the rest.

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
