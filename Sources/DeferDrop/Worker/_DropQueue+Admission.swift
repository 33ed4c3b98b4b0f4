import _DeferDropShims

// The producer's side: where the policy decides what becomes of a value (its
// admission, without the lock or under it), and what a producer does when
// the answer is not "queue it": destroy it inline, wait for room, drain a
// behind worker's queue. A value that is queued travels through the hand-off
// (`_Handoff`) either way.

extension _DropQueue {
    /// What a producer's admission under the lock decides for its value.
    enum Admission {
        /// Appended to the caller's lane and collected into the queue.
        case queued
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
        let lane = handoff.lane(of: self)
        let policy = policy
        while true {
            // With a time bound, a producer does not wait for the lock while
            // the worker holds it: a worker at `.idle` preempted inside its
            // short section may not run again for milliseconds on a busy
            // machine, and every hand-off would wait for it, so that a
            // saturated server would lose requests to the wait. Such a
            // hand-off destroys its value inline, as one finding the worker
            // behind does. Other producers holding the lock are waited for,
            // as always. While the worker holds it, one try, not a spin of
            // 256: a spin on a lock held by a preempted worker is wasted.
            var admission: Admission?
            var drained: [_Lane.Segment] = []
            var signals = Signals()
            func admitHere(_ state: inout State) -> Admission {
                admit(
                    &item, through: lane, isOnWorkerThread: isOnWorkerThread, drained: &drained, signals: &signals,
                    state: &state)
            }
            if policy.maximumWait == nil || isOnWorkerThread {
                admission = state.withLock(admitHere)
            } else {
                let attempts = workerHoldsLock.load(ordering: .relaxed) ? 1 : 256
                admission = state.withLockIfAvailable(attempts: attempts, admitHere)
                if admission == nil, !workerHoldsLock.load(ordering: .relaxed) {
                    admission = state.withLock(admitHere)
                }
            }
            signal(signals)
            switch admission ?? .destroyInline(after: nil) {
            case .queued:
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
    /// `item`, and queues it through `lane` if it is to be queued, adding to
    /// `signals` what the caller signals after the lock (the worker's start
    /// or its wake-up). `isOnWorkerThread` is the caller's, read once before
    /// the lock.
    @inline(__always)
    private func admit(
        _ item: inout _DisposalItem?, through lane: UnsafeMutablePointer<_deferdrop_lane>, isOnWorkerThread: Bool,
        drained: inout [_Lane.Segment], signals: inout Signals, state: inout State
    ) -> Admission {
        // The lock's holder reads the policy it decides under.
        let policy = policy
        // A destructor of a value this thread is draining: part of that
        // drain, whatever the phase. (Waiting for a shutdown's drain here
        // would wait for ever: the worker waits while a producer drains.)
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
        // Every value put in a lane before is queued ahead of this one, and
        // counts towards what is pending, behind or bounded (lanes outlive a
        // change of capacity to a count bound).
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


    /// Destroys `item` on the calling thread and counts it so. Out of line:
    /// the fast path's exception.
    @inline(never)
    func destroyInline(_ item: inout _DisposalItem?) {
        item = nil
        countDestroyedInline(1)
    }

    /// Counts `count` values destroyed by their producer, in the statistics
    /// and the metrics.
    private func countDestroyedInline(_ count: UInt64) {
        destroyedInline.add(count, ordering: .relaxed)
        metrics?.countDestroyedInline(count)
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

    /// The hand-off's fast path: admits `item` without the lock, appends it
    /// to the calling thread's lane and returns true; or returns false
    /// without touching `item` when the admission under the lock must decide.
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

    /// After an append that found `sleeping` or `notRunning`: claims and posts the
    /// wake-up if the worker announced sleep; reconciles with a shutdown
    /// that began. Out of line: rare next to the appends.
    @inline(never)
    private func afterAppend(seen status: UInt8, isTimeBounded: Bool) {
        if status & _Handoff.Status.sleeping != 0, handoff.claimWakeUp() {
            if isTimeBounded { busySince.begin() }
            handoff.wake()
        }
        if status & _Handoff.Status.notRunning != 0 { reconcileAfterShutdown() }
    }

    /// Before the calling thread's first append to its lane without the
    /// lock: the lane joins the collected ones, under the lock (`State.join`).
    @inline(never)
    private func allowAppendsWithoutLock() {
        let lane = handoff.laneObject(of: self)
        state.withLock { $0.join(lane) }
    }

    /// A producer that appended and then saw `notRunning`: a shutdown began,
    /// and the worker's last look may have missed the value. Waits for the
    /// worker to stop, then destroys what is left in its own lane, oldest
    /// first, itself: so nothing is lost and its order holds.
    @inline(never)
    func reconcileAfterShutdown() {
        let stopped: _Semaphore? = state.withLock { state in
            guard case .stopping = state.phase else { return nil }
            return state.waitUntilStopped()
        }
        stopped?.wait()
        // The lane this thread has just appended to: no lock to find it.
        let lane = _Lane.owned(handoff.lane(of: self))
        var leftover: [_Lane.Segment] = []
        state.withLock { state in
            // Running or idle (a fork child): a worker collects the lane.
            guard case .stopped = state.phase, let segment = lane.collect() else { return }
            leftover.append(segment)
        }
        let count = Self.destroy(&leftover, on: nil) {}
        countDestroyedInline(count)
    }
}
