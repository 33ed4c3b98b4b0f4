import _DeferDropShims

// The worker thread's loop: publish what was destroyed, take the next batch,
// destroy it with the lock released, sleep (or wait while producers drain) when there is none.

extension _DropQueue {
    /// What the worker does after a pass under the lock.
    private enum WorkerStep {
        case destroy
        case sleep
        /// With a time bound, while the worker is behind: leave the queue to
        /// the producers for up to the bound (see `takeNextBatchWithTimeBound`).
        case waitForProducersDrain
        /// `sleeping` is announced: fence, then collect once more before
        /// sleeping (the model's last look).
        case fenceBeforeSleeping
        /// While stopping: the same last look before stopping.
        case fenceBeforeStopping
        case stop
    }

    /// What the worker's last step left the next pass to honour.
    private enum WorkerPhase {
        /// Nothing: the pass takes a batch, or announces sleep, or looks last.
        case awake
        /// It announced `sleeping` and fenced: this pass is the last look.
        /// Finding work, the worker takes the announcement back.
        case fencedBeforeSleeping
        /// Stopping, it fenced: a pass that finds nothing stops.
        case fencedBeforeStopping
    }

    /// What the worker keeps from one pass to the next.
    private struct WorkerPass {
        var phase = WorkerPhase.awake
        /// The values taken under the lock, destroyed with it released.
        var batch: [_Lane.Segment] = []
        /// What was destroyed since the last pass, published by the next.
        var destroyed = _Counts()
        /// With a time bound: the producers' activity at the worker's last
        /// boundary (see `takeNextBatchWithTimeBound`).
        var producerActivity: UInt64 = 0
        var appliedPriority: DropPriority?
        var publisher: _WorkerMetrics.Publisher?
    }

    /// What the worker decided under the lock, for the rest of its pass.
    ///
    /// A struct rather than a tuple: in an unoptimised build, a tuple passed
    /// through the lock's generic `withLock` has its metadata made at run
    /// time, on first use, under a lock of the Swift runtime. A worker that
    /// is making it at the moment the process forks leaves that lock held in
    /// the child for ever, and the child's worker then hangs on its first
    /// pass (seen in the fork tests). A struct's metadata is static.
    private struct WorkerDecision {
        var step: WorkerStep
        var signals: Signals
        var priority: DropPriority
        var counts: _Counts?
        /// The policy the batch was taken under, which it is destroyed under.
        var policy: _DropPolicy
    }

    /// Marks the queue running, and returns what starts its thread, which
    /// the caller signals after the lock: at the first hand-off, or at a
    /// barrier on an idle queue that has values (only in a fork child, which
    /// inherits values without the thread).
    func beginRunning(_ state: inout State) -> Signals {
        state.phase = .running(barriers: [], roomWaiters: [])
        handoff.open()
        if policy.maximumWait != nil { busySince.begin() }
        return Signals(startWorker: true)
    }

    /// Starts the worker's thread, with no lock held: the new thread's first
    /// step takes the queue's lock, and the caller returns without waiting
    /// for it to run.
    func startWorkerThread() {
        _Thread.detach(named: threadName) { [self] in
            _WorkerThreadState.run(asWorkerOf: self, named: name, runWorker)
        }
    }

    /// The worker thread's whole life: publish what was destroyed, take the
    /// next batch, destroy it with the lock released, and sleep when there
    /// is none.
    func runWorker(_ thread: _WorkerThreadState) {
        var pass = WorkerPass(publisher: metrics.map(_WorkerMetrics.Publisher.init))
        // The priority applies from the first batch on: a worker at `.idle`
        // that took its first batch at the default priority would then be
        // preempted in the middle of it, on a busy machine, for seconds.
        // Registering for membarrier() may wait for a kernel grace period:
        // here, before the lock, rather than on a producer's thread.
        let membarrierWorks = _Handoff.membarrierWorks
        let priority = state.withLock { state in
            state.workerThreadID = _deferdrop_current_thread_id()
            handoff.letSleeperFence(membarrierWorks)
            return state.priority
        }
        apply(priority, &pass)
        while true {
            thread.takeCounts(into: &pass.destroyed)
            let now = _deferdrop_coarse_monotonic_ns()
            let decision = state.withLock { takeNextStep(&pass, now: now, state: &$0) }
            actOnDecision(decision, &pass)
            switch decision.step {
            case .destroy:
                destroyBatch(&pass, under: decision.policy, takenAt: now, on: thread)
                pass.phase = .awake
            case .sleep:
                handoff.park()
                pass.phase = .awake
            case .waitForProducersDrain:
                // A producer's drain lasts up to the bound it was taken
                // under; one that outlives a lifted bound wakes the worker.
                handoff.park(upTo: decision.policy.maximumWait ?? Self.waitForDrainWithoutTimeBound)
                pass.phase = .awake
            case .fenceBeforeSleeping:
                handoff.fenceBeforeLastLook()
                pass.phase = .fencedBeforeSleeping
            case .fenceBeforeStopping:
                handoff.fenceBeforeLastLook()
                pass.phase = .fencedBeforeStopping
            case .stop:
                return
            }
        }
    }

    /// The worker's critical section: publishes what it destroyed, collects
    /// the lanes, gives back what a time-bounded batch left, takes the next
    /// batch into `pass`, and decides the step.
    private func takeNextStep(_ pass: inout WorkerPass, now: UInt64, state: inout State) -> WorkerDecision {
        let policy = policy
        // A hint for time-bounded producers only: under any other policy, no
        // store to the line the producers read.
        let hintsProducers = policy.maximumWait != nil
        if hintsProducers { workerHoldsLock.store(true, ordering: .relaxed) }
        defer { if hintsProducers { workerHoldsLock.store(false, ordering: .relaxed) } }
        state.counts.add(pass.destroyed)
        pass.destroyed = _Counts()
        state.collectLanes()
        // What a time-bounded batch left goes back to the head of the queue,
        // whatever the policy is now.
        if state.giveBack(&pass.batch), hintsProducers { state.isBehind = true }
        let step = nextStep(&pass, policy: policy, now: now, state: &state)
        var ready = state.takeReachedBarriers()
        if step == .stop { ready += state.stop() }
        let signals = Signals(ready: ready, room: policy.bound.map { state.takeRoomWaiters(bound: $0.count) } ?? [])
        return WorkerDecision(
            step: step, signals: signals, priority: state.priority,
            counts: pass.publisher == nil ? nil : state.counts, policy: policy)
    }

    /// Under the lock: takes the next batch into `pass`, or decides to stand
    /// aside, sleep, look last or stop.
    private func nextStep(
        _ pass: inout WorkerPass, policy: _DropPolicy, now: UInt64, state: inout State
    ) -> WorkerStep {
        let standsAside: Bool
        if state.destroyer == .producer {
            // The head of the queue is a producer's until it gives it back.
            standsAside = true
        } else if policy.maximumWait != nil {
            standsAside = takeNextBatchWithTimeBound(
                &pass.batch, producerActivity: &pass.producerActivity, now: now, state: &state)
        } else {
            standsAside = false
            state.takeQueueForWorker(into: &pass.batch)
        }
        if standsAside {
            handoff.announceSleep()
            return .waitForProducersDrain
        }
        if !pass.batch.isEmpty { return .destroy }
        // Lanes outlive a change of capacity: once a producer appends to
        // one without the lock, the worker looks at them last, fenced,
        // before it sleeps or stops.
        let needsLastLook = !state.lanes.isEmpty
        if case .stopping = state.phase {
            return needsLastLook && pass.phase != .fencedBeforeStopping ? .fenceBeforeStopping : .stop
        }
        handoff.announceSleep()
        return needsLastLook && pass.phase != .fencedBeforeSleeping ? .fenceBeforeSleeping : .sleep
    }

    /// After the critical section, what it decided to signal: takes back an
    /// announced sleep that found work, publishes the metrics, signals
    /// (`signal(_:)`), and applies a new priority.
    private func actOnDecision(_ decision: WorkerDecision, _ pass: inout WorkerPass) {
        // Found work after announcing: take the announcement back.
        // (Standing aside announces again: leave it.)
        if pass.phase == .fencedBeforeSleeping, decision.step != .sleep, decision.step != .waitForProducersDrain {
            handoff.withdrawAnnouncement()
        }
        if let counts = decision.counts { pass.publisher?.publish(counts) }
        signal(decision.signals)
        apply(decision.priority, &pass)
    }

    /// Moves the worker's thread to `priority`'s scheduling class, if it is not there.
    private func apply(_ priority: DropPriority, _ pass: inout WorkerPass) {
        guard priority != pass.appliedPriority else { return }
        // Best effort: raising a thread out of SCHED_IDLE needs a privilege,
        // and without it the thread stays where it was, which it reports.
        let applied = _deferdrop_set_current_thread_scheduling(priority._request)
        schedulingClass.store(applied, ordering: .releasing)
        pass.appliedPriority = priority
    }

    /// Destroys the batch, under the policy it was taken under: a count
    /// bound publishes its progress as it goes, a time bound stops at its
    /// deadline, and otherwise the next pass publishes the whole batch.
    private func destroyBatch(
        _ pass: inout WorkerPass, under policy: _DropPolicy, takenAt now: UInt64, on thread: _WorkerThreadState
    ) {
        let start = pass.publisher == nil ? nil : ContinuousClock.now
        switch policy {
        case .bounded(let count, _):
            let stride = Self.publicationStride(bound: count)
            var unpublished: UInt64 = 0
            Self.destroy(&pass.batch, on: thread) {
                unpublished += 1
                guard unpublished == stride else { return }
                publishDestroyed(unpublished, bound: count, thread: thread)
                unpublished = 0
            }
            pass.destroyed.destroyedFromQueue = unpublished
        case .timeBounded(let maximumWait):
            pass.destroyed.destroyedFromQueue = Self.destroy(&pass.batch, on: thread, until: now &+ maximumWait) {}
        case .unbounded:
            pass.destroyed.destroyedFromQueue = Self.destroy(&pass.batch, on: thread) {}
        }
        if let start {
            pass.publisher?.recordBatch(nanoseconds: Int64(clamping: (ContinuousClock.now - start)._nanoseconds))
        }
    }



    /// Destroys the values of `batch` in the order they were queued, and
    /// calls `afterEach` after each value. Returns how many were destroyed.
    ///
    /// With a `deadline` (coarse monotonic ns), stops once it has passed,
    /// after at least one value, and leaves the rest in `batch`, in order.
    /// On a producer's thread, `thread` is `nil`.
    @discardableResult
    static func destroy(
        _ batch: inout [_Lane.Segment], on thread: _WorkerThreadState?, until deadline: UInt64? = nil,
        afterEach: () -> Void
    ) -> UInt64 {
        // One loop per kind of thread, so that the worker's state is not
        // retained and released around every value.
        if let thread {
            return batch.take(until: deadline, afterEach: afterEach) { thread.release($0) }
        }
        return batch.take(until: deadline, afterEach: afterEach) { Unmanaged<AnyObject>.fromOpaque($0).release() }
    }

    /// With a count bound, how many values the worker destroys between two
    /// publications of its progress: a sixteenth of the bound, at least one.
    ///
    /// Producers read what is pending from the published counts, so they see
    /// at most this many values more than there are: a producer waiting for
    /// room goes on once a sixteenth of the bound is free, and under
    /// `.destroyInline` one may free inline up to that many values early.
    /// The bound itself is never passed. Publishing after every value would
    /// take the lock once per value against the producers' admissions.
    static func publicationStride(bound: UInt64) -> UInt64 {
        max(1, bound / 16)
    }

    /// For a bounded queue: counts `count` more values destroyed, and lets
    /// producers waiting for room go on if there is room now.
    ///
    /// The values their destructors destroyed in place are counted with
    /// them: a `flush()` that finds every queued value completed returns at
    /// once, and the statistics it then reads must include them (the soak
    /// found a bounded worker's `deferred` short by its nested values).
    /// Barrier waiters are resumed at the next pass, after the metrics are
    /// published, so that a flush sees them too.
    private func publishDestroyed(_ count: UInt64, bound: UInt64, thread: _WorkerThreadState) {
        var destroyed = _Counts(destroyedFromQueue: count)
        thread.takeCounts(into: &destroyed)
        signal(
            state.withLock { state in
                state.counts.add(destroyed)
                return Signals(room: state.takeRoomWaiters(bound: bound))
            })
    }
}
