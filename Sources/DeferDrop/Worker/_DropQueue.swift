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
