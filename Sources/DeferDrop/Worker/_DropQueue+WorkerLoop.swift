import _DeferDropShims

// The worker thread's loop: publish what was destroyed, take the next batch,
// destroy it with the lock released; when there is none, sleep, or leave the
// queue to draining producers.

extension _DropQueue {
    private enum WorkerStep {
        case destroy
        case sleep
        /// With a time bound, behind: leave the queue to producers for up to the bound.
        case waitForProducersDrain
        /// `sleeping` is announced: fence; the next pass is the model's last
        /// look, and finding work it takes the announcement back.
        case fenceBeforeSleeping
        /// Stopping: fence; a next pass that finds nothing stops.
        case fenceBeforeStopping
        case stop
    }

    private struct WorkerPass {
        var lastStep = WorkerStep.destroy
        var batch: [_Lane.Segment] = []
        /// Destroyed since the last pass, published by the next.
        var destroyed = _Counts()
        var producerActivity: UInt64 = 0
        var appliedPriority: DropPriority?
        var publisher: _WorkerMetrics.Publisher?
    }

    /// A struct, not a tuple: in an unoptimised build a tuple through the
    /// generic `withLock` has its metadata made on first use under a lock of
    /// the Swift runtime, which a fork can leave held in the child for ever.
    /// A struct's metadata is static.
    private struct WorkerDecision {
        var step: WorkerStep
        var signals: Signals
        var priority: DropPriority
        var counts: _Counts?
        /// The policy the batch was taken under, which it is destroyed under.
        var policy: _DropPolicy
    }

    /// Returns what starts the thread, for the caller to signal after the lock:
    /// at the first hand-off, or a fork child's barrier on inherited values.
    func beginRunning(_ state: inout State) -> Signals {
        state.phase = .running(barriers: [], roomWaiters: [])
        handoff.open()
        if policy.maximumWait != nil { busySince.begin() }
        return Signals(startWorker: true)
    }

    /// With no lock held: the new thread's first step takes the queue's lock.
    func startWorkerThread() {
        _Thread.detach(named: threadName) { [self] in
            _WorkerThreadState.run(asWorkerOf: self, runWorker)
        }
    }

    func runWorker(_ thread: _WorkerThreadState) {
        var pass = WorkerPass(publisher: metrics.map(_WorkerMetrics.Publisher.init))
        // The priority applies from the first batch on. Registering for
        // membarrier() may wait for a kernel grace period: here, before the
        // lock, not on a producer's thread.
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
            let step = decision.step
            let policy = decision.policy
            // Consumed: the waiters it resumes are let go of before the step,
            // so that a parked worker keeps none alive.
            actOnDecision(consume decision, &pass)
            switch step {
            case .destroy:
                destroyBatch(&pass, under: policy, takenAt: now, on: thread)
            case .sleep:
                // A burst's chunks go back here, on no producer's time.
                _deferdrop_chunk_pool_trim(_deferdrop_shared_chunk_pool())
                handoff.park()
            case .waitForProducersDrain:
                // A drain outliving a lifted bound wakes the worker.
                handoff.park(upTo: policy.maximumWait ?? Self.waitForDrainWithoutTimeBound)
            case .fenceBeforeSleeping, .fenceBeforeStopping:
                handoff.fenceBeforeLastLook()
            case .stop:
                return
            }
            pass.lastStep = step
        }
    }

    private func takeNextStep(_ pass: inout WorkerPass, now: UInt64, state: inout State) -> WorkerDecision {
        let policy = policy
        // For time-bounded producers only: otherwise no store to a line they read.
        let hintsProducers = policy.maximumWait != nil
        if hintsProducers { workerHoldsLock.store(true, ordering: .relaxed) }
        defer { if hintsProducers { workerHoldsLock.store(false, ordering: .relaxed) } }
        state.counts.add(pass.destroyed)
        pass.destroyed = _Counts()
        state.collectLanes()
        // What a time-bounded batch left goes back to the head, under any policy now.
        if state.giveBack(&pass.batch), hintsProducers { state.isBehind = true }
        let step = nextStep(&pass, policy: policy, now: now, state: &state)
        var ready = state.takeReachedBarriers()
        if step == .stop { ready += state.stop() }
        let signals = Signals(ready: ready, room: policy.bound.map { state.takeRoomWaiters(bound: $0.count) } ?? [])
        return WorkerDecision(
            step: step, signals: signals, priority: state.priority,
            counts: pass.publisher == nil ? nil : state.counts, policy: policy)
    }

    private func nextStep(
        _ pass: inout WorkerPass, policy: _DropPolicy, now: UInt64, state: inout State
    ) -> WorkerStep {
        let leavesQueueToProducers: Bool
        if state.destroyer == .producer {
            // The head is a producer's until it gives it back.
            leavesQueueToProducers = true
        } else if policy.maximumWait != nil {
            leavesQueueToProducers = takeNextBatchWithTimeBound(
                &pass.batch, producerActivity: &pass.producerActivity, now: now, state: &state)
        } else {
            leavesQueueToProducers = false
            state.takeQueue(into: &pass.batch, by: .worker)
        }
        if leavesQueueToProducers {
            handoff.announceSleep()
            return .waitForProducersDrain
        }
        if !pass.batch.isEmpty { return .destroy }
        // Listed lanes outlive a change of capacity: the worker looks at them
        // last, fenced, before it sleeps or stops.
        let needsLastLook = !state.lanes.isEmpty
        if case .stopping = state.phase {
            return needsLastLook && pass.lastStep != .fenceBeforeStopping ? .fenceBeforeStopping : .stop
        }
        handoff.announceSleep()
        return needsLastLook && pass.lastStep != .fenceBeforeSleeping ? .fenceBeforeSleeping : .sleep
    }

    private func actOnDecision(_ decision: consuming WorkerDecision, _ pass: inout WorkerPass) {
        // Found work after announcing: take it back. Waiting for a drain announces again.
        if pass.lastStep == .fenceBeforeSleeping, decision.step != .sleep, decision.step != .waitForProducersDrain {
            handoff.withdrawAnnouncement()
        }
        if let counts = decision.counts { pass.publisher?.publish(counts) }
        signal(decision.signals)
        apply(decision.priority, &pass)
    }

    private func apply(_ priority: DropPriority, _ pass: inout WorkerPass) {
        guard priority != pass.appliedPriority else { return }
        // Best effort: leaving SCHED_IDLE needs a privilege; the thread reports where it is.
        let applied = _deferdrop_set_current_thread_scheduling(priority._request)
        schedulingClass.store(applied, ordering: .releasing)
        pass.appliedPriority = priority
    }

    /// Under the policy it was taken under: a count bound publishes as it goes,
    /// a time bound stops at its deadline.
    private func destroyBatch(
        _ pass: inout WorkerPass, under policy: _DropPolicy, takenAt now: UInt64, on thread: _WorkerThreadState
    ) {
        let start = pass.publisher == nil ? nil : ContinuousClock.now
        if let bound = policy.bound {
            let stride = Self.publicationStride(bound: bound.count)
            var unpublished: UInt64 = 0
            Self.destroy(&pass.batch, on: thread) {
                unpublished += 1
                guard unpublished == stride else { return }
                publishDestroyed(unpublished, bound: bound.count, thread: thread)
                unpublished = 0
            }
            pass.destroyed.destroyedFromQueue = unpublished
        } else {
            let deadline = policy.maximumWait.map { now &+ $0 }
            pass.destroyed.destroyedFromQueue = Self.destroy(&pass.batch, on: thread, until: deadline)
        }
        if let start {
            pass.publisher?.recordBatch(nanoseconds: Int64(clamping: (ContinuousClock.now - start)._nanoseconds))
        }
    }

    /// In the order queued; past `deadline`, after at least one value, leaves
    /// the rest in `batch`, in order. `thread` is `nil` on a producer's thread.
    @discardableResult
    static func destroy(
        _ batch: inout [_Lane.Segment], on thread: _WorkerThreadState?, until deadline: UInt64? = nil,
        afterEach: () -> Void = {}
    ) -> UInt64 {
        // One loop per kind of thread: the worker's state is not retained per value.
        if let thread {
            return batch.take(until: deadline, afterEach: afterEach) { thread.release($0) }
        }
        return batch.take(until: deadline, afterEach: afterEach) { Unmanaged<AnyObject>.fromOpaque($0).release() }
    }

    /// With a count bound, values destroyed between publications: producers see
    /// at most this many more pending than there are, so one may wait or free
    /// inline early, but the bound is never passed. Publishing per value would
    /// take the lock per value against the producers.
    static func publicationStride(bound: UInt64) -> UInt64 {
        max(1, bound / 16)
    }

    /// Counts with them the values their destructors destroyed in place: a
    /// `flush()` that then returns at once reads statistics that must include
    /// them. Barriers are resumed at the next pass, after the metrics, so a
    /// flush sees those too.
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
