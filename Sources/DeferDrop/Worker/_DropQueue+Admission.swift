import _DeferDropShims

// The producer's side: the admission, without the lock or under it, and what a
// producer does when it is not "queue it": destroy inline, wait for room, drain.

extension _DropQueue {
    /// What a producer's admission under the lock decides for its value.
    enum Admission {
        case queued
        /// Once `after` is posted, if there is one: a shutdown's drain of what
        /// was queued before.
        case destroyInline(after: _Semaphore?)
        case waitForRoom(_Semaphore)
        /// Destroy the values taken into the caller's `drained`, then the
        /// value. Not in this case: a copy left in the enum would keep every
        /// value alive until after the drain was published.
        case drainThenDestroyInline(deadline: UInt64)
    }

    /// Queues `item` or destroys it on the calling thread; `nil` on return.
    /// After a shutdown began, a producer's value waits for the drain of what
    /// came before, then is destroyed inline, so its order holds. On the
    /// worker's thread it is destroyed in place where it can be.
    /// `acrossThreads` orders it after every value handed over before it in
    /// happens-before order: the lock collects every lane first. Otherwise
    /// only the calling thread's order is kept.
    @usableFromInline
    func enqueue(_ item: inout _DisposalItem?, acrossThreads: Bool) {
        if !acrossThreads, !isOnWorkerThread, enqueueAdmittedWithoutLock(&item) { return }
        enqueueAdmittedUnderLock(&item)
    }

    /// The worker's own hand-offs, ordered ones, a count bound's, and whatever
    /// `status` sends here. The value is appended to the caller's lane and
    /// collected under the lock, so that the count a bound reads is exact and
    /// the value is queued behind every lane. Out of line, so that the fast
    /// path does not pay for this frame.
    @inline(never)
    private func enqueueAdmittedUnderLock(_ item: inout _DisposalItem?) {
        let isOnWorkerThread = isOnWorkerThread
        if isOnWorkerThread, Self.destroyInPlace(&item) { return }
        let lane = handoff.lane(of: self)
        let policy = policy
        while true {
            var drained: [_Lane.Segment] = []
            var signals = Signals()
            func admitHere(_ state: inout State) -> Admission {
                admit(
                    &item, through: lane, isOnWorkerThread: isOnWorkerThread, drained: &drained, signals: &signals,
                    state: &state)
            }
            let admission =
                policy.maximumWait == nil || isOnWorkerThread
                ? state.withLock(admitHere) : withLockUnlessTheWorkerHoldsIt(admitHere)
            signal(signals)
            switch admission ?? .destroyInline(after: nil) {
            case .queued:
                return
            case .waitForRoom(let room):
                // Room, a new capacity or a shutdown: try again.
                room.wait()
                continue
            case .destroyInline(let after):
                after?.wait()
            case .drainThenDestroyInline(let deadline):
                drain(&drained, until: deadline)
            }
            destroyInline(&item)
            return
        }
    }

    /// Queues `item` through `lane` if it is to be queued; adds to `signals`
    /// what the caller signals after the lock.
    @inline(__always)
    private func admit(
        _ item: inout _DisposalItem?, through lane: UnsafeMutablePointer<_deferdrop_lane>, isOnWorkerThread: Bool,
        drained: inout [_Lane.Segment], signals: inout Signals, state: inout State
    ) -> Admission {
        let policy = policy
        // A destructor of a value this thread drains: part of that drain, in
        // any phase. Waiting for a shutdown's drain would wait for ever: the
        // worker waits while a producer drains.
        if state.destroyer == .producer, isDrainingOnCallingThread { return .destroyInline(after: nil) }
        switch state.phase {
        case .notStarted:
            signals = beginRunning(&state)
        case .running:
            break
        case .stopping:
            if !isOnWorkerThread { return .destroyInline(after: state.waitUntilStopped()) }
        case .stopped:
            return .destroyInline(after: nil)
        }
        // Every value in a lane is queued ahead of this one and counts towards
        // what is pending (lanes outlive a change to a count bound).
        state.collectLanes()
        if let bound = policy.bound, state.counts.pending >= bound.count, !isOnWorkerThread {
            if bound.policy == .destroyInline || _ThreadRole.isWorkerThread {
                return .destroyInline(after: nil)
            }
            return .waitForRoom(state.waitForRoom())
        }
        if !isOnWorkerThread, let admission = timeBoundAdmission(policy, drained: &drained, state: &state) {
            return admission
        }
        _Lane.append(&item, to: lane)
        state.collect(_Lane.owned(lane))
        if isOnWorkerThread { state.extendBarriersOverNestedValue() }
        if handoff.claimWakeUp() {
            signals.wakeWorker = true
            if policy.maximumWait != nil { busySince.begin() }
        }
        return .queued
    }


    /// Out of line: the fast path's exception.
    @inline(never)
    func destroyInline(_ item: inout _DisposalItem?) {
        item = nil
        countDestroyedInline(1)
    }

    private func countDestroyedInline(_ count: UInt64) {
        destroyedInline.add(count, ordering: .relaxed)
        metrics?.countDestroyedInline(count)
    }

    var isOnWorkerThread: Bool {
        _ThreadRole.isWorker(of: self)
    }

    /// Only a destructor of a value this thread drains can find it true.
    var isDrainingOnCallingThread: Bool {
        _ThreadRole.isDraining(self)
    }

    /// Unless that would nest too deep or the value is referenced elsewhere.
    /// Out of line, so that a producer's hand-off stays a load and a comparison.
    @inline(never)
    private static func destroyInPlace(_ item: inout _DisposalItem?) -> Bool {
        let thread = _WorkerThreadState.current
        return thread.nestingDepth < maximumNestingDepth && thread.destroyInPlaceIfLastReference(&item)
    }

    /// The fast path; false, with `item` untouched, where the lock must decide.
    @inline(__always)
    func enqueueAdmittedWithoutLock(_ item: inout _DisposalItem?) -> Bool {
        let policy = policy
        guard policy.admitsWithoutLock else { return false }
        let seen = handoff.status.load(ordering: .relaxed)
        guard seen & _Handoff.Status.sendsToLock == 0 else {
            guard Self.timeBoundDestroysInline(policy, seeing: seen) else { return false }
            destroyInline(&item)
            return true
        }
        let lane = handoff.lane(of: self)
        if _deferdrop_lane_appends_without_lock(lane) == 0 { allowAppendsWithoutLock() }
        if let maximumWait = policy.maximumWait {
            switch timeBoundVerdict(maximumWait: maximumWait, lane: lane) {
            case .append: break
            case .toLock: return false
            case .destroyInline:
                destroyInline(&item)
                return true
            }
        }
        let status = handoff.append(&item, to: lane, seen: seen)
        if status & _Handoff.Status.needsAfterAppend != 0 {
            afterAppend(seen: status, isTimeBounded: policy.maximumWait != nil)
        }
        return true
    }

    /// Out of line: rare next to the appends.
    @inline(never)
    private func afterAppend(seen status: UInt8, isTimeBounded: Bool) {
        if status & _Handoff.Status.sleeping != 0, handoff.claimWakeUp() {
            if isTimeBounded { busySince.begin() }
            handoff.wake()
        }
        if status & _Handoff.Status.notRunning != 0 { reconcileAfterShutdown() }
    }

    /// Before the lane's first append without the lock (`State.join`).
    @inline(never)
    private func allowAppendsWithoutLock() {
        let lane = handoff.laneObject(of: self)
        state.withLock { $0.join(lane) }
    }

    /// A producer saw `notRunning` after its append: the worker's last look may
    /// have missed the value. It waits for the stop, then destroys what is left
    /// in its lane, oldest first: nothing is lost and its order holds.
    @inline(never)
    func reconcileAfterShutdown() {
        let stopped: _Semaphore? = state.withLock { state in
            guard case .stopping = state.phase else { return nil }
            return state.waitUntilStopped()
        }
        stopped?.wait()
        let lane = _Lane.owned(handoff.lane(of: self))
        var leftover: [_Lane.Segment] = []
        state.withLock { state in
            // Running or not started (a fork child): a worker collects the lane.
            guard case .stopped = state.phase, let segment = lane.collect() else { return }
            leftover.append(segment)
        }
        let count = Self.destroy(&leftover, on: nil)
        countDestroyedInline(count)
    }
}
