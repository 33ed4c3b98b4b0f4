import Synchronization
import _DeferDropShims

// The time bound (`DropCapacity.timeBounded(maximumWait:)`, `.server`), in one
// place. Its state: since when the worker has been busy (`_BusySince`), whether it
// is behind (the status bit `behind`) and each producer's schedule of clock reads.
// A hand-off that finds the worker busy past the bound goes to the lock, or
// destroys its value inline where the head is held or the worker holds the
// lock; an admission under the lock that finds it behind drains the head, then
// destroys its value inline; a worker behind while producers hand over leaves
// the queue to them.

// MARK: State

/// Since when (coarse clock, ns) the worker has been busy: from a wake-up or a
/// batch until it sleeps idle. Read relaxed: a reading a tick old at worst queues
/// one more value or frees one more inline.
struct _BusySince: ~Copyable, Sendable {
    /// 0 while idle.
    private let since = Atomic<UInt64>(0)

    func begin(at now: UInt64 = _deferdrop_coarse_monotonic_ns()) {
        since.store(now, ordering: .relaxed)
    }

    func end() {
        since.store(0, ordering: .relaxed)
    }

    @inline(__always)
    var beginning: UInt64? {
        let since = since.load(ordering: .relaxed)
        return since == 0 ? nil : since
    }

    /// Whether the worker has been busy for longer than `maximumWait` at `now`.
    @inline(__always)
    func isOverdue(maximumWait: UInt64, now: UInt64 = _deferdrop_coarse_monotonic_ns()) -> Bool {
        guard let beginning else { return false }
        return now &- beginning > maximumWait
    }
}

extension _DropQueue.State {
    /// The worker fell behind and has not caught up: every hand-off is
    /// destroyed inline, and the worker leaves the queue where a producer can
    /// take it. Cleared when the time bound is lifted.
    var isBehind: Bool {
        get { handoff.status.load(ordering: .relaxed) & _Handoff.Status.behind != 0 }
        nonmutating set { handoff.update(_Handoff.Status.behind, to: newValue ? _Handoff.Status.behind : 0) }
    }

    /// By the `drainer` that has published: caught up once nothing is queued
    /// and no one else holds the head.
    mutating func endBehindIfCaughtUp(publishedBy drainer: _DropQueue.Destroyer) {
        if queued.isEmpty, destroyer == .nobody || destroyer == drainer { isBehind = false }
    }
}

// MARK: A hand-off

extension _Lane {
    /// The most hand-offs a producer lets pass between two reads of the clock.
    static let maximumClockGap: UInt64 = 31

    /// Whether this hand-off reads the clock. A fixed count of hand-offs between
    /// reads would let a producer of one large value per request queue many past
    /// the bound; so a read that finds the clock unmoved doubles the gap, up to
    /// `maximumClockGap`, and one that finds it moved makes the next hand-off
    /// read again (`clockWasRead`). The schedule lives in the lane's producer
    /// line, which only the owning thread touches.
    @inline(__always)
    static func isClockDue(_ lane: UnsafeMutablePointer<_deferdrop_lane>) -> Bool {
        if lane.pointee.clock_countdown == 0 { return true }
        lane.pointee.clock_countdown -= 1
        return false
    }

    @inline(__always)
    static func clockWasRead(at now: UInt64, _ lane: UnsafeMutablePointer<_deferdrop_lane>) {
        let gap = now == lane.pointee.clock_last ? min(lane.pointee.clock_gap &* 2 &+ 1, maximumClockGap) : 0
        lane.pointee.clock_gap = gap
        lane.pointee.clock_countdown = gap
        lane.pointee.clock_last = now
    }
}

extension _DropQueue {
    /// What the time bound decides for a hand-off without the lock.
    enum TimeBoundVerdict {
        case append
        case toLock
        case destroyInline
    }

    /// The worker runs behind and the head is held, so no producer can drain:
    /// a hand-off destroys inline at once, rather than every producer queuing
    /// on the lock to learn that. An old `seen` at worst sends the hand-off to
    /// the lock, or frees inline a value the worker could have taken, as the
    /// bound allows.
    @inline(__always)
    static func timeBoundDestroysInline(_ policy: _DropPolicy, seeing seen: UInt8) -> Bool {
        typealias Status = _Handoff.Status
        return policy.maximumWait != nil && seen & (Status.notRunning | Status.behind) == Status.behind
            && seen & (Status.workerHasBatch | Status.producerDrains) != 0
    }

    /// A worker busy past the bound sends the hand-off to the lock, unless it
    /// holds the lock: then this destroys inline, as the lock's admission would,
    /// without touching the lock's line, which a preempted `.idle` worker may hold long.
    @inline(__always)
    func timeBoundVerdict(maximumWait: UInt64, lane: UnsafeMutablePointer<_deferdrop_lane>) -> TimeBoundVerdict {
        guard busySince.beginning != nil, _Lane.isClockDue(lane) else { return .append }
        let now = _deferdrop_coarse_monotonic_ns()
        _Lane.clockWasRead(at: now, lane)
        guard busySince.isOverdue(maximumWait: maximumWait, now: now) else { return .append }
        return workerHoldsLock.load(ordering: .relaxed) ? .destroyInline : .toLock
    }

    /// `nil` where the worker holds the lock: with a time bound, a producer
    /// does not wait for it, since a preempted `.idle` worker may not run again
    /// for long and every hand-off would wait; it destroys inline instead. It
    /// tries once, not a spin: spinning on a preempted holder is wasted. Other
    /// producers holding the lock are waited for.
    func withLockUnlessTheWorkerHoldsIt<Result>(_ body: (inout State) -> Result) -> Result? {
        let attempts = workerHoldsLock.load(ordering: .relaxed) ? 1 : 256
        if let result = state.withLockIfAvailable(attempts: attempts, body) { return result }
        return workerHoldsLock.load(ordering: .relaxed) ? nil : state.withLock(body)
    }

    /// In a producer's admission, with the worker behind, or overdue while
    /// values are pending (so that a producer of one large value at a time
    /// never queues past the bound): take the queue into `drained` to destroy,
    /// then destroy inline; or destroy inline at once if the head is held.
    /// What the worker has not reached stays allocated while it is behind,
    /// where the allocator cannot reuse it. One destroyer at a time, from the
    /// head, keeps each producer's order and `destroyedFromQueue` a count of
    /// the oldest values, as barriers need. `nil`: the value may be queued.
    @inline(__always)
    func timeBoundAdmission(
        _ policy: _DropPolicy, drained: inout [_Lane.Segment], state: inout State
    ) -> Admission? {
        guard let maximumWait = policy.maximumWait,
            state.isBehind || (state.counts.pending > 0 && busySince.isOverdue(maximumWait: maximumWait))
        else { return nil }
        state.isBehind = true
        guard state.destroyer == .nobody, !state.queued.isEmpty else { return .destroyInline(after: nil) }
        state.takeQueue(into: &drained, by: .producer)
        return .drainThenDestroyInline(deadline: _deferdrop_coarse_monotonic_ns() &+ maximumWait)
    }

    /// Destroys the head's values oldest first until `deadline` (at least one),
    /// gives back the rest, and publishes as the worker does.
    func drain(_ batch: inout [_Lane.Segment], until deadline: UInt64) {
        let count = _ThreadRole.draining(self) { Self.destroy(&batch, on: nil, until: deadline) }
        let signals = state.withLock { state in
            state.counts.add(_Counts(destroyedFromQueue: count, drainedByProducers: count))
            state.giveBack(&batch)
            state.destroyer = .nobody
            state.endBehindIfCaughtUp(publishedBy: .producer)
            // The worker waits out a drain for up to the bound; a shutdown, or a
            // bound since lifted, is worth waking it for.
            let isStopping = !state.isRunning
            return Signals(
                ready: state.takeReachedBarriers(),
                wakeWorker: (isStopping || policy.maximumWait == nil) && handoff.claimWakeUp())
        }
        metrics?.countDrainedByProducer(count)
        signal(signals)
    }

    // MARK: The worker's boundary

    /// How long (ns) a worker without a time bound waits for a drain begun
    /// under one; the drain wakes it, so this bounds only a lost race.
    static let waitForDrainWithoutTimeBound: UInt64 = 20_000_000

    /// The worker's step between batches: takes every queued value, or
    /// returns true to leave the queue to producers. A behind `.idle` worker
    /// is preempted for long stretches, and what it has taken stays allocated meanwhile; so while it
    /// is behind and producers hand over, it leaves the queue to them
    /// (`timeBoundAdmission`). `producerActivity`, what they drained or destroyed
    /// inline, shows whether they do; with none, the worker keeps the queue.
    /// Leaving it, the worker holds nothing, so a producer can always take the queue.
    func takeNextBatchWithTimeBound(
        _ batch: inout [_Lane.Segment], producerActivity: inout UInt64, now: UInt64, state: inout State
    ) -> Bool {
        let isRunning = state.isRunning
        // Its last batch is published or given back, and no producer drains
        // (`nextStep` leaves the queue to a draining producer first).
        state.endBehindIfCaughtUp(publishedBy: .worker)
        let activity = state.counts.drainedByProducers &+ destroyedInline.load(ordering: .relaxed)
        let producersAreActive = activity != producerActivity
        producerActivity = activity
        if state.isBehind && isRunning && producersAreActive {
            state.destroyer = .nobody
            return true
        }
        state.takeQueue(into: &batch, by: .worker)
        // While behind, the worker stays busy since it became so: producers
        // go on finding it behind until it has caught up.
        if batch.isEmpty {
            busySince.end()
        } else if !state.isBehind {
            busySince.begin(at: now)
        }
        return false
    }
}
