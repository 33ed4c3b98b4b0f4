#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization
import _DeferDropShims

/// The hand-off between any number of producers and one worker thread, and the
/// worker thread's loop.
///
/// The worker's state lives in one `State` under one lock: the lifecycle, the
/// queue, the counters and the threads waiting in `flush()` or `shutdown()`.
/// The critical sections are a few stores: the lock is never held while a
/// value is destroyed, a thread is woken or a waiter resumed. What producers
/// read without the lock is `status` (whether the worker sleeps, runs, or is
/// behind) and the policy word.
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
///   `status`, appends, and reads `status` again (`_DropQueue+Lanes`);
/// - a producer pays for a wake-up (one `sem_post` system call) only when the
///   worker has announced that it is going to sleep. While the worker is
///   busy, hand-offs make no system call at all;
/// - the worker never polls: when the queue is empty it sleeps on a semaphore
///   until a producer, `shutdown()` or `deinit` posts it.
///
/// The admission under the lock (`enqueueAdmittedUnderLock`) takes the rest: a
/// count bound's hand-offs, ordered ones (`orderedAcrossThreads`), the
/// worker's own, and those `status` sends there (not running, or a
/// time-bounded worker behind). It may destroy the value inline, wait for
/// room, or drain the queue first; a value it queues it appends to the
/// caller's lane and collects before it lets go of the lock.
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
    /// Posted exactly once for each time the worker went to sleep and was needed.
    let wakeUp = _Semaphore()

    /// The queue's identity for the producers' lanes (see `_DropQueue+Lanes`).
    let id = _DropQueue.nextIdentity()
    /// What producers read without the lock: `Status` bits.
    let status = Atomic<UInt8>(Status.notRunning)
    /// With a time bound: since when the worker has owed progress.
    let owedProgress = _OwedProgress()

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
        // Before any producer of any queue appends: which side fences.
        _ = _DropQueue.sleeperFences
        state = _Lock(State(capacity: capacity, priority: priority ?? capacity.defaultPriority, priorityFollowsCapacity: priority == nil))
        keepAcrossFork()
        _ProcessLifecycle.shared.register(self)
    }

    deinit {
        _ProcessLifecycle.shared.unregister(ObjectIdentifier(self))
    }

    /// Whether the worker's side of the eventcount fences for both, with
    /// membarrier(), so that producers need not (see `_DropQueue+Lanes`).
    /// Decided once, when the first queue is made.
    static let sleeperFences = _deferdrop_sleeper_fence_set_up() != 0

    // MARK: Producers

    /// What a producer's admission under the lock decides for its value.
    private enum Admission {
        /// Appended to the caller's lane and collected into the queue;
        /// `wakeWorker` if this hand-off claimed the worker's wake-up.
        case queued(wakeWorker: Bool)
        /// Destroy it on the calling thread, once `after` is posted if there
        /// is one (a shutdown's drain of what was queued before it).
        case destroyInline(after: _Semaphore?)
        /// The bound is reached: wait on the semaphore, then try again.
        case waitForRoom(_Semaphore)
        /// The worker is behind: destroy the queued values taken into
        /// `drained` (oldest first, until the deadline), then the value.
        ///
        /// The values travel in a variable of the caller's, not in this case:
        /// a copy of the batch left in the enum would keep a second reference
        /// to every value, and each would then be destroyed only when the
        /// enum is, after the drain was published.
        case drainThenDestroyInline(deadline: UInt64)
    }

    /// Moves `item` into the queue, or destroys it in the calling thread if the
    /// worker has stopped or is full under `.destroyInline`. `item` is `nil`
    /// on return either way.
    ///
    /// After `shutdown()` has begun, a value from any thread but the worker's
    /// waits until the worker has drained what was queued before it, and is then
    /// destroyed inline: so a producer's values are destroyed in order even
    /// across a shutdown.
    ///
    /// From a destructor this queue's own worker is running, the value is
    /// destroyed here and now instead, unless that would nest deeper than
    /// `maximumNestingDepth` or the value is still referenced elsewhere.
    ///
    /// `acrossThreads` orders the value after every value handed over before
    /// it in happens-before order, from any thread (`DropWorker.orderedAcrossThreads`):
    /// it is admitted under the lock, which collects every lane first. Otherwise
    /// only the calling thread's order is kept.
    @usableFromInline
    func enqueue(_ item: inout _DisposalItem?, acrossThreads: Bool) {
        if !acrossThreads, !isOnWorkerThread, enqueueAdmittedWithoutLock(&item) { return }
        enqueueAdmittedUnderLock(&item)
    }

    /// The hand-offs that the lock admits: the worker's own (destroyed in
    /// place or queued), ordered ones, a count bound's, and whatever the
    /// status word sends here. The value still travels through the calling
    /// thread's lane, as every queued value does: appended and collected
    /// under the lock, so that the count a bound reads is exact and the
    /// value is queued behind every lane collected before it. Out of line,
    /// so that the lane's fast path does not pay for this one's frame.
    @inline(never)
    private func enqueueAdmittedUnderLock(_ item: inout _DisposalItem?) {
        let isOnWorkerThread = isOnWorkerThread
        if isOnWorkerThread, Self.destroyInPlace(&item) { return }
        let lane = laneOfCallingThread()
        let policy = policy
        while true {
            // With a time bound, a producer does not wait for the lock while
            // the worker holds it: a worker at `.idle` preempted inside its
            // short section may not run again for milliseconds on a busy
            // machine, and every hand-off would wait for it (measured: a
            // saturated server lost a third of its requests that way with 99%
            // of its values freed inline). Such a hand-off destroys its value
            // inline, as one finding the worker behind does. Other producers
            // holding the lock are waited for, as always. While the worker
            // holds it, one try, not a spin of 256: every producer spinning
            // on a lock held by a preempted worker paid about 600 ns per
            // hand-off (2 producers on the shared worker, one iteration of
            // the benchmark's stream in ten).
            var admission: Admission?
            var drained: [_ChunkedQueue.Chunk] = []
            if policy.maximumWait == nil || isOnWorkerThread {
                admission = withStatePublished { admit(&item, through: lane, drained: &drained, state: &$0) }
            } else {
                let attempts = workerHoldsLock.load(ordering: .relaxed) ? 1 : 256
                admission = withStatePublishedIfAvailable(attempts: attempts) {
                    admit(&item, through: lane, drained: &drained, state: &$0)
                }
                if admission == nil, !workerHoldsLock.load(ordering: .relaxed) {
                    admission = withStatePublished { admit(&item, through: lane, drained: &drained, state: &$0) }
                }
            }
            switch admission ?? .destroyInline(after: nil) {
            case .queued(let wakeWorker):
                if wakeWorker { wakeUp.signal() }
                return
            case .destroyInline(let after):
                after?.wait()
                destroyInline(&item)
                return
            case .waitForRoom(let room):
                // Woken when the worker has made room, or is stopping: try again.
                room.wait()
            case .drainThenDestroyInline(let deadline):
                drain(&drained, until: deadline)
                destroyInline(&item)
                return
            }
        }
    }

    /// The producer's admission under the lock: decides what becomes of
    /// `item`, and queues it through `lane` if it is to be queued.
    @inline(__always)
    private func admit(
        _ item: inout _DisposalItem?, through lane: UnsafeMutablePointer<_deferdrop_lane>,
        drained: inout [_ChunkedQueue.Chunk], state: inout State
    ) -> Admission {
        // The lock's holder reads the policy it decides under.
        let policy = policy
        // A destructor of a value this thread is draining: part of that
        // drain, whatever the lifecycle. (Waiting for a shutdown's drain here
        // would wait for ever: the worker stands aside while a producer drains.)
        if state.headHolder == .producer, isDrainingOnCallingThread { return .destroyInline(after: nil) }
        switch state.lifecycle {
        case .idle:
            startRunning(&state)
        case .running:
            break
        case .stopping:
            if !isOnWorkerThread { return .destroyInline(after: state.waitUntilStopped()) }
        case .stopped:
            return .destroyInline(after: nil)
        }
        // Every value put in a lane before is queued ahead of this one, and
        // counts towards what is pending, behind or bounded (lanes outlive a
        // change of capacity to a count bound).
        Self.collectLanes(&state)
        if let bound = policy.bound, state.pending >= bound.count, !isOnWorkerThread {
            if bound.policy == .destroyInline || _ThreadRole.isWorkerThread {
                return .destroyInline(after: nil)
            }
            let room = _Semaphore()
            state.roomWaiters.append(room)
            return .waitForRoom(room)
        }
        if let maximumWait = policy.maximumWait, !isOnWorkerThread {
            if state.isCatchingUp || (state.shouldCheckWhetherBehind && owedProgress.isOverdue(maximumWait: maximumWait)) {
                guard state.takeQueueToDrain(into: &drained) else { return .destroyInline(after: nil) }
                return .drainThenDestroyInline(deadline: _deferdrop_coarse_monotonic_ns() &+ maximumWait)
            }
        }
        _Lane.append(&item, to: lane)
        state.collect(lane)
        if !state.waiters.isEmpty, isOnWorkerThread {
            state.extendBarriersOverNestedValue()
        }
        guard claimWakeUp() else { return .queued(wakeWorker: false) }
        if policy.maximumWait != nil { owedProgress.begin() }
        return .queued(wakeWorker: true)
    }

    /// A producer's drain: destroys the values it took from the head of the
    /// queue, oldest first, until `deadline` (at least one), gives back what
    /// is left, and publishes them as the worker publishes a batch.
    private func drain(_ batch: inout [_ChunkedQueue.Chunk], until deadline: UInt64) {
        let count = _ThreadRole.draining(self) { Self.destroy(&batch, on: nil, until: deadline) {} }
        // Results through variables, not a tuple: see `WorkerDecision`.
        var ready: [_Waiter] = []
        var mustWake = false
        withStatePublished { state in
            state.publish(DestroyedCounts(queued: count))
            state.drainedByProducers += count
            state.items.prepend(&batch)
            state.headHolder = .nobody
            state.endCatchingUpIfCaughtUp()
            // The worker stands aside while a producer drains, for up to the
            // bound; a shutdown to finish, or a time bound since lifted, is
            // worth waking it for.
            let isStopping = if case .running = state.lifecycle { false } else { true }
            ready = state.takeReadyWaiters()
            mustWake = (isStopping || policy.maximumWait == nil) && claimWakeUp()
        }
        metrics?.countDrainedByProducer(count)
        for waiter in ready { waiter.resume() }
        if mustWake { wakeUp.signal() }
    }

    /// Destroys `item` on the calling thread and counts it so. Out of line:
    /// the fast path's exception.
    @inline(never)
    func destroyInline(_ item: inout _DisposalItem?) {
        item = nil
        destroyedInline.add(1, ordering: .relaxed)
        metrics?.countDestroyedInline()
    }

    /// Whether the calling thread is the worker's.
    var isOnWorkerThread: Bool {
        _ThreadRole.isWorker(of: self)
    }

    /// Whether the calling thread is a producer draining this queue, which
    /// only a destructor of a value it drains can ask.
    var isDrainingOnCallingThread: Bool {
        _ThreadRole.isDraining(self)
    }

    /// On the worker's own thread: destroys `item` in place unless that would
    /// nest too deep or the value is still referenced elsewhere. Off the hot
    /// path, so that a producer's hand-off stays a load and a comparison.
    @inline(never)
    private static func destroyInPlace(_ item: inout _DisposalItem?) -> Bool {
        let thread = _WorkerThreadState.current
        return thread.nestingDepth < maximumNestingDepth && thread.destroyInPlaceIfLastReference(&item)
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
    /// stops catching up, and a producer draining the queue finishes its
    /// drain while the worker waits; when one is set, the worker owes
    /// progress from now if it holds values. A producer that read the old
    /// policy on the lock-free way may still put its value in its lane,
    /// which the worker and every locked hand-off collect under any policy.
    /// A worker whose priority follows its capacity takes the new one's.
    func setCapacity(_ capacity: DropCapacity, owner: String) {
        let policy = _DropPolicy(capacity, owner: owner)
        var room: [_Semaphore] = []
        var mustWake = false
        withStatePublished { state in
            let wasTimeBounded = self.policy.maximumWait != nil
            state.capacity = capacity
            policyWord.store(policy.word, ordering: .relaxed)
            if state.priorityFollowsCapacity { state.priority = capacity.defaultPriority }
            if policy.maximumWait == nil {
                state.isCatchingUp = false
                owedProgress.end()
            } else if !wasTimeBounded {
                let owes = state.headHolder == .worker || !state.items.isEmpty
                if owes { owedProgress.begin() } else { owedProgress.end() }
            }
            swap(&room, &state.roomWaiters)
            // A worker asleep or standing aside reads the new policy and priority.
            mustWake = claimWakeUp()
        }
        for producer in room { producer.signal() }
        if mustWake { wakeUp.signal() }
    }

    var priority: DropPriority {
        get { state.withLock { $0.priority } }
        set {
            let mustWake = state.withLock { state in
                state.priority = newValue
                state.priorityFollowsCapacity = false
                return claimWakeUp()
            }
            // A sleeping worker wakes to apply it now, and sleeps again.
            if mustWake { wakeUp.signal() }
        }
    }

    var drainsAtExit: Bool {
        get { state.withLock { $0.drainsAtExit } }
        set { state.withLock { $0.drainsAtExit = newValue } }
    }

    // MARK: Statistics

    var statistics: DropStatistics {
        state.withLock { state in
            let destroyedInline = destroyedInline.load(ordering: .relaxed)
            return DropStatistics(
                deferred: state.enqueued + valuesInLanes(state) + destroyedInline + state.destroyedInPlace,
                destroyed: state.completed + destroyedInline + state.destroyedInPlace,
                peakPending: state.peakPending,
                reclaimedBytes: state.reclaimedBytes,
                destroyedInline: destroyedInline + state.drainedByProducers,
                releasedElsewhere: state.releasedElsewhere)
        }
    }

}
