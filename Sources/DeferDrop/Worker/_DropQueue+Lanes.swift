#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization
import _DeferDropShims

// The hand-off: each producer thread appends to a lane of its own (`_Lane`),
// and whoever holds the lock moves the lanes' values into the queue
// ("collects") before it reads the queue. Every queued value takes that
// way; what differs is the admission before the append. The protocol is the
// one `Verification/handoff.pml` checks with spin; the names below are the
// model's.
//
// - A producer reads `status` once before it appends: any bit but `sleeping`
//   sends it to the admission under the lock (`admit`), as do a count bound,
//   the worker's own thread and a time-bounded worker found behind. That
//   admission collects every lane, appends to the caller's lane and takes
//   that lane too, so the value is queued before the lock is let go.
// - Order: a lane keeps its thread's order, and a collect takes each lane's
//   values whole, lane after lane, in no particular order between lanes.
//   Producers share no line: a hand-off writes its own lane and reads
//   `status`. Order across threads (`DropWorker.orderedAcrossThreads`,
//   which `ShardedDropPool.worker(for:)` returns) is admitted under the
//   lock: it collects every lane, then queues its value behind them, so that any
//   value handed over before it, in happens-before order, was published and
//   is collected first. A lock per hand-off is what happens-before order
//   costs; a value's own thread never needs it.
// - After appending, `status` once more: `sleeping` means it claims the
//   wake-up; `notRunning` means a shutdown began, and the worker may or may
//   not have seen the value (`reconcileAfterShutdown`).
// - The worker announces `sleeping` under the lock (a read-modify-write)
//   and collects once more before it sleeps (`WorkerStep.announceSleep`);
//   it looks once more before it stops too (`WorkerStep.lookLast`). Only
//   lanes that their threads append to without the lock need that look,
//   and only they are listed for collecting (`State.lanes`, joined under
//   the lock before the first such append): an append under the lock is
//   collected at once, and ordered with the announcement by the lock. Either
//   the worker's last look sees a value, or its producer's look at `status`
//   sees the announcement. A collect takes every value published.
// - That "either" is a Dekker pattern: each side stores, then loads what
//   the other stored, and needs a full barrier in between. The sleeper pays
//   for both: before its last look it calls membarrier(), which runs a full
//   barrier on every thread of the process that is running (one that is
//   not has passed one when it was switched out), so a producer needs only
//   a compiler barrier, and its hand-off has no locked instruction. Where
//   membarrier() is unavailable, producers fence instead
//   (`_deferdrop_producer_fence`). The model checks both, and that one
//   side must have it (-DBROKEN_NO_FENCE). The worker sleeps far less often
//   than values are handed over, and a sleep costs it microseconds anyway.

extension _DropQueue {
    /// Bits of `status`, which producers read without the lock.
    enum Status {
        /// The worker has announced that it will sleep: the first hand-off
        /// after it claims the wake-up (`claimWakeUp`) and posts `wakeUp`.
        static let sleeping: UInt8 = 1
        /// No worker runs: not started yet, stopping, or stopped.
        static let notRunning: UInt8 = 2
        /// With a time bound, the worker is catching up; or, under any
        /// policy, a producer drains the queue: hand-offs are admitted under the lock,
        /// which destroys inline or drains, or queues.
        static let catchingUp: UInt8 = 4
        /// Only with `catchingUp`: the worker or a producer holds the values taken
        /// from the queue, so a producer could not drain and would destroy its
        /// value inline; it does so at once, without the lock. (Under load
        /// every producer would otherwise take the lock only to learn that,
        /// and they would queue for it: with four producers on the shared
        /// worker, 371–396 ns per value before this bit, 262–315 after, in
        /// `Docs/Benchmarks.md`.)
        static let queueHeld: UInt8 = 8
    }

    /// The queue's identity for the lanes: never reused, unlike an address.
    static func nextIdentity() -> UInt64 {
        _nextQueueIdentity.add(1, ordering: .relaxed).newValue
    }

    /// The hand-off's fast path: admits `item` without the lock, appends it
    /// to the calling thread's lane and returns true; or returns false
    /// without touching `item` when the admission under the lock must decide.
    @inline(__always)
    func enqueueAdmittedWithoutLock(_ item: inout _DisposalItem?) -> Bool {
        let policy = policy
        guard policy.admitsWithoutLock else { return false }
        let seen = status.load(ordering: .relaxed) & ~Status.sleeping
        guard seen == 0 else {
            // Behind, and the queue is someone else's to drain: what the
            // lock's admission would decide (an old value seen here at worst
            // sends the hand-off there, or frees a value inline that the
            // worker could have taken, as the time bound allows).
            guard seen == Status.catchingUp | Status.queueHeld else { return false }
            destroyInline(&item)
            return true
        }
        let lane = laneOfCallingThread()
        if _deferdrop_lane_appends_without_lock(lane) == 0 { allowAppendsWithoutLock() }
        // With a time bound, a hand-off asks whether the worker is behind
        // while it owes progress: at every hand-off of a thread that hands
        // values over slower than the coarse clock ticks, and at one in up to
        // 32 of a faster one (`_deferdrop_lane_clock_due`). The read costs
        // as much as the rest of the hand-off (a stream of small objects to
        // `DropWorker.shared`: 19–23 ns per value with a read at each, 12–15
        // with none). A fixed count of hand-offs between reads would let a
        // producer that hands over one large value per request queue many past
        // the bound: checking every 16th, a saturated server
        // (`Docs/Benchmarks.md`, workload 8) kept 362 MB resident against
        // 75–101 MB.
        if let maximumWait = policy.maximumWait, let beginning = owedProgress.beginning, _deferdrop_lane_clock_due(lane) != 0 {
            let now = _deferdrop_coarse_monotonic_ns()
            _deferdrop_lane_clock_read(lane, now)
            if _OwedProgress.isOverdue(beginning: beginning, now: now, maximumWait: maximumWait) {
                // The lock's admission decides, unless the worker holds it: then
                // it would destroy inline without waiting, and so does this,
                // without touching the lock's line (a worker at `.idle`
                // preempted in its section may hold it for milliseconds while
                // every producer's hand-off finds it behind).
                guard workerHoldsLock.load(ordering: .relaxed) else { return false }
                destroyInline(&item)
                return true
            }
        }
        _Lane.append(&item, to: lane)
        // The producer's side of the Dekker pattern with the sleeper's last
        // look (and with a shutdown's): a compiler barrier where the worker
        // uses membarrier(), a full fence otherwise.
        _deferdrop_producer_fence()
        let status = status.load(ordering: .relaxed)
        if status != 0 { afterAppend(seen: status, isTimeBounded: policy.maximumWait != nil) }
        return true
    }

    /// After an append that found `status` not clear: claims and posts the
    /// wake-up if the worker announced sleep; reconciles with a shutdown
    /// that began. Out of line: rare next to the appends.
    @inline(never)
    private func afterAppend(seen status: UInt8, isTimeBounded: Bool) {
        if status & Status.sleeping != 0, claimWakeUp() {
            if isTimeBounded { owedProgress.begin() }
            wakeUp.signal()
        }
        if status & Status.notRunning != 0 { reconcileAfterShutdown() }
    }

    /// The calling thread's lane to this queue: the one in the one-entry
    /// cache, unless another queue's was used last or this is the thread's
    /// first hand-off here. Never under the lock, which a new lane takes.
    @inline(__always)
    func laneOfCallingThread() -> UnsafeMutablePointer<_deferdrop_lane> {
        _deferdrop_current_lane(id) ?? laneOfCallingThreadNotCached()
    }

    /// Before the calling thread's first append to its lane without the
    /// lock: marks the lane so and adds it to the lanes that whoever holds
    /// the lock collects (`State.lanes`), under the lock, so that the
    /// worker's next decision to sleep or stop sees it and fences before its
    /// last look. Until then the lane was appended to only under the lock,
    /// which collected it at once and orders those appends with the
    /// worker's announcement: nothing needs to look at it.
    @inline(never)
    private func allowAppendsWithoutLock() {
        let lane = _ThreadLanes.lane(to: id, of: self)
        state.withLock { state in
            _deferdrop_lane_allow_appends_without_lock(lane.raw)
            state.lanes.append(lane)
        }
    }

    /// The calling thread's lane when it is not in the cache.
    @inline(never)
    private func laneOfCallingThreadNotCached() -> UnsafeMutablePointer<_deferdrop_lane> {
        _ThreadLanes.lane(to: id, of: self).raw
    }

    /// A producer that appended and then saw `notRunning`: a shutdown began,
    /// and the worker's last look may have missed the value. Waits for the
    /// worker to stop, then destroys what is left in its own lane, oldest
    /// first, itself: so nothing is lost and its order holds.
    @inline(never)
    func reconcileAfterShutdown() {
        let stopped: _Semaphore? = state.withLock { state in
            switch state.lifecycle {
            case .stopping:
                return state.waitUntilStopped()
            case .idle, .running, .stopped:
                return nil
            }
        }
        stopped?.wait()
        var leftover = _ChunkedQueue()
        state.withLock { state in
            // Running or idle (a fork child): a worker collects the lane.
            guard case .stopped = state.lifecycle else { return }
            guard let lane = ownLane(in: state) else { return }
            _ = _Lane.takeAll(from: lane.raw, into: &leftover)
        }
        var batch: [_ChunkedQueue.Chunk] = []
        leftover.exchange(&batch)
        let count = Self.destroy(&batch, on: nil) {}
        destroyedInline.add(count, ordering: .relaxed)
        for _ in 0..<count { metrics?.countDestroyedInline() }
    }

    /// The calling thread's lane to this queue, if it has one.
    private func ownLane(in state: borrowing State) -> _Lane? {
        guard let raw = _deferdrop_current_lane(id) else { return nil }
        return state.lanes.first { $0.raw == raw }
    }

    /// Under the lock: moves the lanes' published values to the end of the
    /// queue, each lane's in its order, and forgets the lanes of threads
    /// that have ended once they are empty. Lanes belong to their producers
    /// once the worker has stopped: nothing is collected then.
    static func collectLanes(_ state: inout State) {
        guard !state.lanes.isEmpty else { return }
        if case .stopped = state.lifecycle { return }
        var anyEnded = false
        for lane in state.lanes {
            state.collect(lane.raw)
            anyEnded = anyEnded || lane.ownerHasEnded.load(ordering: .acquiring)
        }
        if anyEnded {
            state.lanes.removeAll { $0.ownerHasEnded.load(ordering: .acquiring) && $0.available == 0 }
        }
    }

    /// Values in lanes, not yet collected: for the statistics.
    func valuesInLanes(_ state: borrowing State) -> UInt64 {
        state.lanes.reduce(0) { $0 + $1.available }
    }

    /// Claims the duty to post `wakeUp` if the worker has announced that it
    /// will sleep: true for exactly one caller per announcement.
    ///
    /// A load first, so that a caller finding no announcement writes nothing
    /// to the line every producer reads: every caller holds the lock, under
    /// which the worker announces, or saw the bit after its own append (the
    /// eventcount), or is the worker that announced.
    func claimWakeUp() -> Bool {
        guard status.load(ordering: .relaxed) & Status.sleeping != 0 else { return false }
        return status.bitwiseAnd(~Status.sleeping, ordering: .sequentiallyConsistent).oldValue & Status.sleeping != 0
    }

    /// Runs `body` under the lock, then, before the lock is let go, publishes
    /// what it may have changed of `State.isCatchingUp`, `State.headHolder`
    /// or the policy into `status`, where producers appending to lanes read
    /// them without the lock. Every critical section that can change them
    /// (an admission under the lock, a producer's drain, the worker's step, a
    /// change of capacity) goes through here, so none can forget to.
    func withStatePublished<Result>(_ body: (inout State) -> Result) -> Result {
        state.withLock { state in
            defer { publishCatchingUp(state) }
            return body(&state)
        }
    }

    /// `withStatePublished`, if the lock is free within `attempts` tries;
    /// `nil` otherwise.
    func withStatePublishedIfAvailable<Result>(attempts: Int, _ body: (inout State) -> Result) -> Result? {
        state.withLockIfAvailable(attempts: attempts) { state in
            defer { publishCatchingUp(state) }
            return body(&state)
        }
    }

    /// Mirrors `State.isCatchingUp` and who holds the head into `status`:
    /// only ever from `withStatePublished`.
    private func publishCatchingUp(_ state: borrowing State) {
        let isTimeBounded = policy.maximumWait != nil
        // A producer's drain sends hand-offs to the lock under any policy:
        // there, a destructor the drain runs destroys what it hands over in
        // place, inside the drain, which a barrier covering the drain then
        // covers (a time bound lifted during the drain must not send it to a
        // lane, past the barrier).
        let catchingUp = (isTimeBounded && state.isCatchingUp) || state.headHolder == .producer
        // Set only with `catchingUp` and a time bound: any bit but `sleeping`
        // sends a hand-off to the lock, and a busy worker that is not
        // behind always holds a batch.
        let queueHeld = isTimeBounded && catchingUp && state.headHolder != .nobody
        // Only the lock's holder changes these two bits: most calls find
        // them as they should be, and write nothing.
        let current = status.load(ordering: .relaxed)
        if (current & Status.catchingUp != 0) != catchingUp { setStatus(Status.catchingUp, catchingUp) }
        if (current & Status.queueHeld != 0) != queueHeld { setStatus(Status.queueHeld, queueHeld) }
    }

    /// Sets or clears `bit` of `status`.
    func setStatus(_ bit: UInt8, _ isSet: Bool) {
        if isSet {
            status.bitwiseOr(bit, ordering: .sequentiallyConsistent)
        } else {
            status.bitwiseAnd(~bit, ordering: .sequentiallyConsistent)
        }
    }
}

private let _nextQueueIdentity = Atomic<UInt64>(0)
