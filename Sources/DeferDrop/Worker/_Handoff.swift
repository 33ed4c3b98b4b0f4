import Synchronization
import _DeferDropShims

// The hand-off: each producer thread appends to a lane of its own (`_Lane`),
// and whoever holds the lock moves the lanes' values into the queue
// ("collects") before it reads the queue. Every queued value takes that
// way; what differs is the admission before the append. The protocol is the
// one `Verification/handoff.pml` checks with spin; the names below are the
// model's.
//
// - A producer reads `status` once before it appends: no worker running, a
//   worker behind or a producer draining (`Status.sendsToLock`) sends it to
//   the admission under the lock (`_DropQueue.admit`), as do a count bound,
//   the worker's own thread and a time-bounded worker found behind. That
//   admission collects every lane, appends to the caller's lane and takes
//   that lane too, so the value is queued before the lock is let go.
// - Order: a lane keeps its thread's order, and a collect takes each lane's
//   values whole, lane after lane, in no particular order between lanes.
//   Producers share no line: a hand-off writes its own lane and reads
//   `status`. Order across threads (`DropWorker.orderedAcrossThreads`,
//   which `ShardedDropPool.worker(for:)` returns) is admitted under the
//   lock: it collects every lane, then queues its value behind them, so
//   that any value handed over before it, in happens-before order, was
//   published and is collected first. A lock per hand-off is what happens-before order
//   costs; a value's own thread never needs it.
// - After appending, `status` once more: `sleeping` means it claims the
//   wake-up; `notRunning` means a shutdown began, and the worker may or may
//   not have seen the value (`reconcileAfterShutdown`).
// - The worker announces `sleeping` under the lock (a read-modify-write)
//   and collects once more before it sleeps (`WorkerStep.fenceBeforeSleeping`);
//   it looks once more before it stops too (`WorkerStep.fenceBeforeStopping`). Only
//   lanes that their threads append to without the lock need that look,
//   and only they are listed for collecting (`State.lanes`, joined under
//   the lock before the first such append): an append under the lock is
//   collected at once, and ordered with the announcement by the lock.
//   Either the worker's last look sees a value, or its producer's look at
//   `status` sees the announcement. A collect takes every value published.
// - That "either" is a Dekker pattern: each side stores, then loads what
//   the other stored, and needs a full barrier in between. The sleeper pays
//   for both: before its last look it calls membarrier(), which runs a full
//   barrier on every thread of the process that is running (one that is
//   not has passed one when it was switched out), so a producer needs only
//   a compiler barrier, and its hand-off has no locked instruction. Where
//   membarrier() is unavailable, producers fence instead
//   (`_deferdrop_producer_fence`). The model checks both, and that one
//   side must have it (-DBROKEN_NO_FENCE). The worker sleeps far less often
//   than values are handed over, and a sleep is a system call anyway.
// - Which side fences is the status bit `sleeperFences`. Producers fence
//   until the worker sets it. Registering for membarrier() makes the kernel
//   wait for a grace period in a process with several threads, so there the
//   worker's thread registers, never a producer's; a process that has never
//   started a thread registers when it makes its first worker, where the
//   kernel does not wait. A producer reads the bit
//   with `status` before its append, the worker after its announcement: the
//   bit and `sleeping` share one word, so a producer that read the bit set
//   reads the announcement that came before the worker's read of it. The
//   model checks the switch at any moment (-DFENCE_SWITCH), and that the
//   worker must read the bit after announcing (-DBROKEN_FENCE_BIT_READ_EARLY).

/// One worker's hand-off without the lock: each producer thread's lane to
/// it, the status word producers read, and the eventcount on it that puts
/// the worker to sleep and wakes it.
///
/// The list of lanes to collect and the queue they are collected into live
/// in the queue's `State`, under its lock. What is here is read and written
/// without it.
/// What a value may do (the policy) is the queue's to decide, at admission
/// and at the worker's batch boundary; the hand-off moves values and signals.
final class _Handoff: Sendable {
    /// Bits of `status`, which producers read without the lock.
    enum Status {
        /// The worker has announced that it will sleep: the first hand-off
        /// after it claims the wake-up (`claimWakeUp`) and posts it (`wake`).
        static let sleeping: UInt8 = 1
        /// No worker runs: not started yet, stopping, or stopped.
        static let notRunning: UInt8 = 2
        /// With a time bound, the worker is behind (`State.isBehind`,
        /// whose home this bit is).
        static let behind: UInt8 = 4
        /// The worker holds values taken from the head of the queue, its
        /// batch (`State.destroyer`, whose home this bit and the next are).
        static let workerHasBatch: UInt8 = 8
        /// A producer holds values taken from the head of the queue: it
        /// drains the queue of a time-bounded worker that fell behind.
        static let producerDrains: UInt8 = 16
        /// The worker fences for both sides of the eventcount before its
        /// last look, with membarrier(): producers need only a compiler
        /// barrier after their append. Set by the worker, under the lock,
        /// before its first pass, where membarrier() works.
        static let sleeperFences: UInt8 = 32

        /// The bits that send a hand-off to the admission under the lock:
        /// no worker runs; the worker is behind, which the time bound
        /// decides there; or a producer drains, whose destructors' hand-offs
        /// are part of its drain under any policy (a time bound lifted
        /// during the drain must not send them to a lane, past a barrier
        /// that covers the drain).
        static let sendsToLock = notRunning | behind | producerDrains
        /// The bits an append that finds them must act on (`afterAppend`).
        static let needsAfterAppend = sleeping | notRunning

    }

    /// The hand-off's identity for the lanes: never reused, unlike an address.
    let id = _nextHandoffIdentity.add(1, ordering: .relaxed).newValue
    /// What producers read without the lock: `Status` bits.
    let status = Atomic<UInt8>(Status.notRunning)
    /// Posted exactly once for each time the worker went to sleep and was needed.
    private let wakeUp = _Semaphore()

    /// Whether membarrier() is registered for the process, so that a worker
    /// can fence for its producers. Registered once: by the first worker
    /// made while the process has one thread, where the kernel does not
    /// wait, and otherwise on the first worker thread that asks, before it
    /// takes the lock (`letSleeperFence`).
    static let membarrierWorks = _deferdrop_sleeper_fence_set_up() != 0

    init() {
        if _deferdrop_process_is_single_threaded() != 0 { _ = Self.membarrierWorks }
    }

    // MARK: Producers, without the lock

    /// The calling thread's lane to this handoff: the one in the one-entry
    /// cache, unless another hand-off's was used last or this is the thread's
    /// first hand-off here. `owner` is the queue, which the lane knows weakly.
    @inline(__always)
    func lane(of owner: AnyObject) -> UnsafeMutablePointer<_deferdrop_lane> {
        _deferdrop_current_lane(id) ?? laneNotCached(of: owner)
    }

    @inline(never)
    private func laneNotCached(of owner: AnyObject) -> UnsafeMutablePointer<_deferdrop_lane> {
        laneObject(of: owner).raw
    }

    /// Appends `item` to `lane`, the calling thread's, and publishes it; then
    /// the producer's side of the Dekker pattern with the sleeper's last look
    /// (and with a shutdown's): a compiler barrier where `seen`, the status
    /// the producer read before, says the worker fences, a full fence
    /// otherwise. Returns `status` as read after.
    @inline(__always)
    func append(_ item: inout _DisposalItem?, to lane: UnsafeMutablePointer<_deferdrop_lane>, seen: UInt8) -> UInt8 {
        _Lane.append(&item, to: lane)
        _deferdrop_producer_fence(seen & Status.sleeperFences == 0 ? 1 : 0)
        return status.load(ordering: .relaxed)
    }

    /// The calling thread's lane object, for `join`; made if it has none.
    func laneObject(of owner: AnyObject) -> _Lane {
        _ThreadLanes.lane(to: id, of: owner)
    }

    // MARK: The eventcount

    /// Claims the duty to post the wake-up (`wake`) if the worker has announced that it
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

    /// Posts the wake-up claimed with `claimWakeUp`: after the lock is let go.
    func wake() {
        wakeUp.signal()
    }

    /// Under the lock, when the worker finds nothing to do: announces that
    /// it will sleep.
    func announceSleep() {
        set(Status.sleeping, true)
    }

    /// Before the worker's last look at the lanes: every producer's append
    /// so far is visible, or that producer will see what the worker
    /// published before (`sleeping`, `notRunning`).
    func fenceBeforeLastLook() {
        guard status.load(ordering: .relaxed) & Status.sleeperFences != 0 else { return }
        let error = _deferdrop_sleeper_fence()
        _precondition(error == 0, "DeferDrop: membarrier() failed with errno \(error)")
    }

    /// The worker, under the lock, before its first pass: from now on it
    /// fences for its producers, if `membarrierWorks` (which it read before
    /// the lock).
    func letSleeperFence(_ membarrierWorks: Bool) {
        if membarrierWorks { set(Status.sleeperFences, true) }
    }

    /// The worker sleeps until a producer, a barrier, a change of settings
    /// or a shutdown posts the wake-up.
    func park() {
        wakeUp.wait()
    }

    /// The worker waits while producers drain for up to `nanoseconds`, or until posted, and
    /// is awake again either way.
    func park(upTo nanoseconds: UInt64) {
        _ = wakeUp.wait(nanoseconds: nanoseconds)
        set(Status.sleeping, false)
    }

    /// The worker found work after it announced sleep: takes the
    /// announcement back, unless a producer has claimed the wake-up; then
    /// its post is coming, and taking it keeps the semaphore exact.
    func withdrawAnnouncement() {
        if !claimWakeUp() { wakeUp.wait() }
    }

    /// How many posts the wake-up holds: for a diagnosis only.
    var pendingWakeUps: Int32 {
        wakeUp.value
    }

    /// In the child of a `fork()`: the wake-up is usable again, with its
    /// count, though a thread the child does not have may have been posting it.
    func reinitializeWakeUpInForkChild() {
        wakeUp.reinitializeInForkChild()
    }

    // MARK: Open and closed

    /// A worker runs: producers may append without the lock.
    func open() {
        set(Status.notRunning, false)
    }

    /// No worker will take values appended without the lock after its last
    /// look (a shutdown): producers that see this after their append make
    /// sure of their value themselves. Under the lock. Returns whether the
    /// caller claimed the wake-up, to post after the lock is let go.
    func close() -> Bool {
        set(Status.notRunning, true)
        return claimWakeUp()
    }

    /// In the child of a `fork()`: no worker runs, none is asleep or behind,
    /// and no one holds the head of the queue. `sleeperFences` is cleared
    /// too: the child's only thread fences its own hand-offs until the
    /// worker it starts sets the bit again.
    func closeInForkChild() {
        status.store(Status.notRunning, ordering: .relaxed)
    }

    /// Sets or clears `bit` of `status`: under the lock (or by the worker
    /// that announced, for `sleeping`).
    func set(_ bit: UInt8, _ isSet: Bool) {
        if isSet {
            status.bitwiseOr(bit, ordering: .sequentiallyConsistent)
        } else {
            status.bitwiseAnd(~bit, ordering: .sequentiallyConsistent)
        }
    }

    /// Makes the bits of `mask` in `status` read `bits`, for the bits only
    /// the lock's holder writes (`behind` and the head's holder); writes
    /// only those that change, so that a pass that changes nothing leaves
    /// the line producers read alone.
    func update(_ mask: UInt8, to bits: UInt8) {
        let current = status.load(ordering: .relaxed) & mask
        let cleared = current & ~bits
        let set = bits & ~current
        if cleared != 0 { status.bitwiseAnd(~cleared, ordering: .sequentiallyConsistent) }
        if set != 0 { status.bitwiseOr(set, ordering: .sequentiallyConsistent) }
    }
}

private let _nextHandoffIdentity = Atomic<UInt64>(0)
