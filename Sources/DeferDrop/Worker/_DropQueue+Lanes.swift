#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization
import _DeferDropShims

// The lock-free hand-off: each producer thread appends to a lane of its own
// (`_Lane`), and whoever holds the lock moves every lane's values into the
// queue ("collects") before it reads the queue. The protocol is the one
// `Verification/handoff.pml` checks with spin; the names below are the model's.
//
// - A producer reads `status` once before it appends: any bit but `sleeping`
//   sends it the locked way (`handOff`), as do a bound, the worker's own
//   thread and a time-bounded worker found behind.
// - Order across threads: a worker destroys values in the order they were
//   handed over (`ShardedDropPool.worker(for:)` promises it to a task that
//   moves between threads), and lanes alone would keep only each thread's.
//   So a thread appends to its lane only while it is the queue's `owner`:
//   the last thread to hand a value over the locked way. Any other thread
//   takes the lock, makes itself the owner, collects every lane and queues
//   its value behind them. A value handed over before (in happens-before
//   order) is then ahead of it, in the queue or in the owner's own lane.
//   The race between an owner's append and a new owner's collect is a
//   Dekker pattern: a full fence on both sides, and an owner that finds,
//   after its append, that it no longer is, collects its lane itself.
// - After appending, a full fence, then `status` once more: `sleeping` means
//   it claims the wake-up; `notRunning` means a shutdown began, and the
//   worker may or may not have seen the value (`reconcileAfterShutdown`).
// - The worker announces `sleeping` under the lock (a read-modify-write, a
//   full fence) and collects once more before it sleeps
//   (`WorkerStep.announceSleep`); it looks once more before it stops too
//   (`WorkerStep.lookLast`). Either the worker's last look sees a value, or
//   its producer's look at `status` sees the announcement.
// - (The fence could move to the sleeper's side, as `membarrier()`, leaving
//   the producer a compiler barrier, as the model's first version did; but
//   ownership needs a fence on the producer's side anyway, and the model
//   shows that one fence serves both.)

extension _DropQueue {
    /// Bits of `status`, which producers read without the lock.
    enum Status {
        /// The worker has announced that it will sleep: the first hand-off
        /// after it claims the wake-up (`claimWakeUp`) and posts `wakeUp`.
        static let sleeping: UInt8 = 1
        /// No worker runs: not started yet, stopping, or stopped.
        static let notRunning: UInt8 = 2
        /// With a time bound, the worker is catching up: hand-offs go the
        /// locked way, which destroys inline or drains.
        static let catchingUp: UInt8 = 4
    }

    /// The queue's identity for the lanes: never reused, unlike an address.
    static func nextIdentity() -> UInt64 {
        _nextQueueIdentity.add(1, ordering: .relaxed).newValue
    }

    /// The hand-off's fast path: appends `item` to the calling thread's lane
    /// and returns true, or returns false without touching `item` when the
    /// locked way must decide.
    @inline(__always)
    func enqueueThroughLane(_ item: inout _DisposalItem?) -> Bool {
        guard status.load(ordering: .relaxed) & ~Status.sleeping == 0,
            let lane = _deferdrop_current_lane(id),
            owner.load(ordering: .relaxed) == UInt(bitPattern: lane)
        else { return false }
        if let maximumWait, _deferdrop_lane_written(lane) & 15 == 0, isBehind(maximumWait: maximumWait) {
            return false
        }
        guard _Lane.append(&item, to: lane) else { return false }
        // A full fence: the producer's side of both Dekker patterns, with a
        // new owner's collect and with the sleeper's last look.
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        if _slowPath(owner.load(ordering: .relaxed) != UInt(bitPattern: lane)) {
            // Another thread took over, and its collect may have missed the
            // value: the value must be queued before this hand-off returns.
            collectAfterLosingOwnership()
        }
        let status = status.load(ordering: .relaxed)
        if status == 0 { return true }
        if status & Status.sleeping != 0, claimWakeUp() {
            if maximumWait != nil { workingSince.store(_deferdrop_coarse_monotonic_ns(), ordering: .relaxed) }
            wakeUp.signal()
        }
        if status & Status.notRunning != 0 { reconcileAfterShutdown() }
        return true
    }

    /// With a time bound: whether the worker has owed progress for longer
    /// than `maximumWait` ns (since a producer woke it, or it took its
    /// batch), so that a hand-off should destroy inline. Asked by both ways
    /// of handing over: the lane's every 16th value, the lock's when
    /// `State.shouldCheckWhetherBehind`.
    func isBehind(maximumWait: UInt64) -> Bool {
        let since = workingSince.load(ordering: .relaxed)
        return since != 0 && _deferdrop_coarse_monotonic_ns() &- since > maximumWait
    }

    /// For the locked way, before the lock: the calling thread's lane, made
    /// on its first hand-off to this queue, which it is about to own.
    @inline(never)
    func laneOfCallingThread() -> UnsafeMutablePointer<_deferdrop_lane> {
        _deferdrop_current_lane(id) ?? registerLane()
    }

    /// Under the lock, on the locked way: makes the lane the owner. A
    /// sequentially consistent store, a full fence on x86, before the
    /// collect that follows it.
    func takeOwnership(of lane: UnsafeMutablePointer<_deferdrop_lane>) {
        owner.store(UInt(bitPattern: lane), ordering: .sequentiallyConsistent)
    }

    /// An owner that lost ownership between its append and its second look:
    /// queues what its lane holds (a no-op if the new owner collected it).
    @inline(never)
    private func collectAfterLosingOwnership() {
        state.withLock { collectLanes(&$0) }
    }

    /// The calling thread's first hand-off to this queue: makes its lane.
    @inline(never)
    private func registerLane() -> UnsafeMutablePointer<_deferdrop_lane> {
        _ThreadLanes.lane(to: id) { lane in
            state.withLock { $0.lanes.append(lane) }
        }
    }

    /// A producer that appended and then saw `notRunning`: a shutdown began,
    /// and the worker's last look may have missed the value. Waits for the
    /// worker to stop, then destroys what is left in its own lane, oldest
    /// first, itself: so nothing is lost and its order holds.
    @inline(never)
    private func reconcileAfterShutdown() {
        let stopped: _Semaphore? = state.withLock { state in
            switch state.lifecycle {
            case .stopping:
                let stopped = _Semaphore()
                state.waiters.append((.stopped, .thread(stopped)))
                return stopped
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
            _ = lane.takeAll(into: &leftover)
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

    /// Under the lock: moves every lane's published values to the end of
    /// the queue, and forgets the lanes of threads that have ended once they
    /// are empty. Lanes belong to their producers once the worker has
    /// stopped: nothing is collected then.
    func collectLanes(_ state: inout State) {
        guard !state.lanes.isEmpty else { return }
        if case .stopped = state.lifecycle { return }
        var collected: UInt64 = 0
        var ended = false
        for lane in state.lanes {
            collected += lane.takeAll(into: &state.items)
            if lane.ownerHasEnded.load(ordering: .acquiring) { ended = true }
        }
        if ended {
            state.lanes.removeAll { $0.ownerHasEnded.load(ordering: .acquiring) && $0.available == 0 }
        }
        guard collected > 0 else { return }
        state.enqueued += collected
        state.peakPending = max(state.peakPending, state.pending)
    }

    /// Values in lanes, not yet collected: for the statistics.
    func valuesInLanes(_ state: borrowing State) -> UInt64 {
        state.lanes.reduce(0) { $0 + $1.available }
    }

    /// Claims the duty to post `wakeUp` if the worker has announced that it
    /// will sleep: true for exactly one caller per announcement.
    func claimWakeUp() -> Bool {
        status.bitwiseAnd(~Status.sleeping, ordering: .sequentiallyConsistent).oldValue & Status.sleeping != 0
    }

    /// Under the lock, after a step that may change `State.isCatchingUp`
    /// (a hand-off, a producer's drain, the worker's step): mirrors it into
    /// `status`, where producers appending to lanes read it without the lock.
    func publishCatchingUp(_ state: borrowing State) {
        guard usesLanes, maximumWait != nil else { return }
        setStatus(Status.catchingUp, state.isCatchingUp)
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
