import Synchronization
import _DeferDropShims

// The time bound (`DropCapacity.timeBounded(maximumWait:)`, `.server`), in
// one place: its state, and its decisions at a hand-off, under the lock and
// at the worker's boundary between batches. The other files call these at
// the one point each applies.
//
// Its state:
// - since when the worker has been busy (`_BusySince`), which every
//   time-bounded hand-off may read;
// - whether the worker is behind: the status bit `behind` (`State.isBehind`),
//   set when a batch outlasts the bound or a producer finds the worker
//   busy for longer than it, cleared once the worker has caught up;
// - each producer's schedule of clock reads, in its lane (`_Lane.isClockDue`).
//
// Its decisions:
// - a hand-off without the lock reads the clock when due; a worker busy for
//   longer than the bound sends it to the lock, or, if the worker holds the
//   lock or the queue's head is held, it destroys its value inline at once;
// - an admission under the lock that finds the worker behind takes the
//   queue's head and drains it before destroying its own value inline, or
//   destroys it inline if someone else holds the head;
// - the worker, between batches, waits while producers drain while producers drain, and
//   otherwise takes the queue and stays busy.

// MARK: State

/// With a time bound: since when (coarse clock, ns) the worker has been busy,
/// which tells a hand-off whether the worker is behind.
///
/// The worker is busy from the moment a producer wakes it, or it takes a
/// batch, until it sleeps with nothing to do. Written by whoever starts or
/// ends the busy spell (the worker, the producer that woke it, a change of
/// capacity), read relaxed by every time-bounded hand-off: a reading a tick
/// old at worst sends one more value to the worker, or frees one more inline.
struct _BusySince: ~Copyable, Sendable {
    /// The coarse clock's reading when the worker became busy; 0 while idle.
    private let since = Atomic<UInt64>(0)

    /// The worker is busy from `now` (the coarse clock's reading, ns).
    func begin(at now: UInt64 = _deferdrop_coarse_monotonic_ns()) {
        since.store(now, ordering: .relaxed)
    }

    /// The worker is idle: it sleeps with nothing to do.
    func end() {
        since.store(0, ordering: .relaxed)
    }

    /// Since when the worker has been busy, or `nil` while it is idle.
    @inline(__always)
    var beginning: UInt64? {
        let since = since.load(ordering: .relaxed)
        return since == 0 ? nil : since
    }

    /// Whether a busy spell that began at `beginning` is longer than
    /// `maximumWait` at `now`: the worker is behind.
    @inline(__always)
    static func isOverdue(beginning: UInt64, now: UInt64, maximumWait: UInt64) -> Bool {
        now &- beginning > maximumWait
    }

    /// Whether the worker has been busy for longer than `maximumWait` now.
    func isOverdue(maximumWait: UInt64) -> Bool {
        guard let beginning else { return false }
        return Self.isOverdue(beginning: beginning, now: _deferdrop_coarse_monotonic_ns(), maximumWait: maximumWait)
    }
}

extension _DropQueue.State {
    /// With a time bound: the worker fell behind (a batch outlasted the
    /// bound, or a producer found it behind) and has not caught up since.
    /// Every hand-off is then destroyed inline, and the worker stands
    /// aside, so that what is queued stays where a producer can take it
    /// (see `takeQueueToDrain` and `takeNextBatchWithTimeBound`). Lifted
    /// with the time bound, so set only under one.
    var isBehind: Bool {
        get { handoff.status.load(ordering: .relaxed) & _Handoff.Status.behind != 0 }
        nonmutating set { handoff.update(_Handoff.Status.behind, to: newValue ? _Handoff.Status.behind : 0) }
    }

    /// With a time bound, in an admission under the lock: whether it should
    /// ask the clock whether the worker is behind (`_BusySince.isOverdue`):
    /// whenever values are pending, so that a producer of one large value at
    /// a time never queues past the bound.
    var shouldCheckWhetherBehind: Bool {
        counts.pending > 0
    }

    /// With a time bound, for a producer that found the worker behind:
    /// takes every queued value for the caller to destroy, oldest first,
    /// if no one else is destroying values from the queue right now (the
    /// worker holds no batch and no other producer drains); false if
    /// someone is, or nothing is queued.
    ///
    /// Why: values the worker has not reached stay allocated for as long
    /// as it stays behind, which at saturation, in `.idle`, can be
    /// seconds; memory that is freed late is memory the allocator cannot
    /// reuse, and glibc then grows and trims its arenas over and over.
    /// One drainer at a time, always from the head, keeps every
    /// producer's values destroyed in order and `destroyedFromQueue` a count of
    /// the oldest values, as barriers need.
    mutating func takeQueueToDrain(into batch: inout [_Lane.Segment]) -> Bool {
        isBehind = true
        guard destroyer == .nobody, !queued.isEmpty else { return false }
        swap(&queued, &batch)
        destroyer = .producer
        return true
    }

    /// Called by whoever drained values from the head, worker or producer
    /// (`drainer`), once they are published: the worker has caught up once
    /// nothing is queued and no one else holds values taken from the
    /// queue. (The worker's own hold on the batch it has just published
    /// ends only where it takes the next or waits while producers drain.)
    mutating func endBehindIfCaughtUp(publishedBy drainer: _DropQueue.Destroyer) {
        if queued.isEmpty, destroyer == .nobody || destroyer == drainer { isBehind = false }
    }
}

extension _Handoff.Status {
    /// With a time bound, whether a hand-off that found `status` could
    /// only destroy its value inline: the worker runs and is behind, and
    /// the worker or a producer holds the values taken from the queue,
    /// so that no producer can drain. It does so at once, without the
    /// lock: under load every producer would otherwise take the lock only
    /// to learn that, and they would queue for it.
    static func isBehindWithHeadHeld(_ status: UInt8) -> Bool {
        status & (notRunning | behind) == behind && status & (workerHasBatch | producerDrains) != 0
    }
}

// MARK: A hand-off

extension _Lane {
    /// The most hand-offs a producer lets pass between two reads of the clock.
    static let maximumClockGap: UInt64 = 31

    /// For the producer, with a time bound, while the worker is busy:
    /// whether this hand-off reads the clock to ask if the worker is behind.
    ///
    /// A clock read is a sizeable part of a small object's hand-off, and a
    /// fixed count of hand-offs between reads would let a producer that hands
    /// over one large value per request queue many past the bound. So a
    /// thread that hands values over faster than the clock ticks (every 1 to
    /// 4 ms) reads it less often: each read that finds the clock
    /// where the last one left it doubles the gap to the next (1, 3, 7, ...
    /// up to `maximumClockGap` hand-offs), and a read that finds it moved
    /// makes the next hand-off read it again (`clockWasRead`). A thread that
    /// hands a value over once per request, slower than the clock ticks,
    /// reads it at every hand-off; a stream of small values, once per 32. So
    /// a worker past its bound is seen by the first read after a tick, at
    /// most 32 hand-offs later. The schedule lives in the lane's producer
    /// line, which only the owning thread touches.
    @inline(__always)
    static func isClockDue(_ lane: UnsafeMutablePointer<_deferdrop_lane>) -> Bool {
        if lane.pointee.clock_countdown == 0 { return true }
        lane.pointee.clock_countdown -= 1
        return false
    }

    /// For the producer, after a read that `isClockDue` asked for found the
    /// clock at `now`: schedules the next read.
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
        /// Append it to the lane, as without a bound.
        case append
        /// Let the admission under the lock decide.
        case toLock
        /// Destroy it on the calling thread now.
        case destroyInline
    }

    /// Without the lock, for a hand-off whose status word sent it to the lock
    /// (`seen`): whether the time bound destroys its value inline at once,
    /// as the lock's admission would (the worker is behind and the queue's
    /// head is held, so no producer can drain). An old status word seen here
    /// at worst sends the hand-off to the lock, or frees inline a value the
    /// worker could have taken, as the bound allows.
    @inline(__always)
    static func timeBoundDestroysInline(_ policy: _DropPolicy, seeing seen: UInt8) -> Bool {
        policy.maximumWait != nil && _Handoff.Status.isBehindWithHeadHeld(seen)
    }

    /// Without the lock, once the hand-off has its lane: while the worker is
    /// busy, reads the clock when the lane's schedule says so
    /// (`_Lane.isClockDue`), and with a worker busy for longer than the bound
    /// sends the hand-off to the lock, unless the worker holds it: then the
    /// lock's admission would destroy the value inline without waiting, and
    /// so does this, without touching the lock's line (a worker at `.idle`
    /// preempted in its section may hold it for milliseconds while every
    /// producer's hand-off finds it behind). Why a schedule and not every
    /// hand-off, nor every n-th: `_Lane.isClockDue`.
    @inline(__always)
    func timeBoundVerdict(maximumWait: UInt64, lane: UnsafeMutablePointer<_deferdrop_lane>) -> TimeBoundVerdict {
        guard let beginning = busySince.beginning, _Lane.isClockDue(lane) else {
            return .append
        }
        let now = _deferdrop_coarse_monotonic_ns()
        _Lane.clockWasRead(at: now, lane)
        guard _BusySince.isOverdue(beginning: beginning, now: now, maximumWait: maximumWait) else { return .append }
        return workerHoldsLock.load(ordering: .relaxed) ? .destroyInline : .toLock
    }

    /// Under the lock, in a producer's admission (not the worker's own):
    /// with a time bound and the worker behind, or busy for longer than the
    /// bound, what becomes of the value: the caller drains the queue's head
    /// into `drained` and then destroys its value inline, or destroys it
    /// inline at once if someone else holds the head. `nil` when the bound
    /// lets the value be queued.
    @inline(__always)
    func timeBoundAdmission(
        _ policy: _DropPolicy, drained: inout [_Lane.Segment], state: inout State
    ) -> Admission? {
        guard let maximumWait = policy.maximumWait else { return nil }
        guard state.isBehind || (state.shouldCheckWhetherBehind && busySince.isOverdue(maximumWait: maximumWait)) else {
            return nil
        }
        guard state.takeQueueToDrain(into: &drained) else { return .destroyInline(after: nil) }
        return .drainThenDestroyInline(deadline: _deferdrop_coarse_monotonic_ns() &+ maximumWait)
    }

    /// A producer's drain: destroys the values it took from the head of the
    /// queue, oldest first, until `deadline` (at least one), gives back what
    /// is left, and publishes them as the worker publishes a batch.
    func drain(_ batch: inout [_Lane.Segment], until deadline: UInt64) {
        let count = _ThreadRole.draining(self) { Self.destroy(&batch, on: nil, until: deadline) {} }
        let signals = state.withLock { state in
            state.counts.add(_Counts(destroyedFromQueue: count, drainedByProducers: count))
            state.giveBack(&batch)
            state.destroyer = .nobody
            state.endBehindIfCaughtUp(publishedBy: .producer)
            // The worker waits while producers drain while a producer drains, for up to the
            // bound; a shutdown to finish, or a time bound since lifted, is
            // worth waking it for.
            let isStopping = !state.isRunning
            return Signals(
                ready: state.takeReachedBarriers(),
                wakeWorker: (isStopping || policy.maximumWait == nil) && handoff.claimWakeUp())
        }
        metrics?.countDrainedByProducer(count)
        signal(signals)
    }

    // MARK: The worker's boundary

    /// How long (ns) a worker without a time bound waits, at most, for a
    /// producer's drain begun under one to end; the drain wakes it when it
    /// does, so this bounds only a lost race.
    static let waitForDrainWithoutTimeBound: UInt64 = 20_000_000

    /// With a time bound, the worker's step under the lock between two
    /// batches: gives back what is left in `batch` (the last one outlasted
    /// the bound), and takes every queued value, unless it should stand
    /// aside: returns whether it should.
    ///
    /// Why wait while producers drain: a worker that is behind, at `.idle` on a saturated
    /// machine, is preempted for long stretches, and whatever it has taken
    /// off the queue stays allocated until it runs again. So while it is
    /// behind and producers are handing over, it leaves the queue to
    /// them, which destroy it in order on their next hand-offs
    /// (`takeQueueToDrain`), and sleeps for up to the bound.
    ///
    /// Whether producers are handing over shows in `producerActivity`: the
    /// values they drained or destroyed inline, which is all a hand-off can
    /// do while the worker is behind. A producer cannot drain while the
    /// worker holds a batch, so a change since the last boundary means
    /// producers are there, and one since the last stand-aside means they
    /// went on. With none, the worker keeps the queue and drains it as fast
    /// as an unbounded one: a burst followed by quiet costs no stand-aside.
    /// A worker that waits while producers drain holds nothing, so a producer can always
    /// take the queue.
    func takeNextBatchWithTimeBound(
        _ batch: inout [_Lane.Segment], producerActivity: inout UInt64, now: UInt64, state: inout State
    ) -> Bool {
        let isRunning = state.isRunning
        // Its last batch is published or given back, and no producer drains
        // (`nextStep` waits while producers drain first).
        state.endBehindIfCaughtUp(publishedBy: .worker)
        let activity = state.counts.drainedByProducers &+ destroyedInline.load(ordering: .relaxed)
        let producersAreActive = activity != producerActivity
        producerActivity = activity
        if state.isBehind && isRunning && producersAreActive {
            state.destroyer = .nobody
            return true
        }
        state.takeQueueForWorker(into: &batch)
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
