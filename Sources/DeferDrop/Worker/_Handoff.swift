import Synchronization
import _DeferDropShims

// The hand-off without the lock. `Verification/handoff.pml` checks its protocol
// with spin, under the names used here.
//
// Each producer appends to a lane of its own, so a thread's values keep their
// order; order across threads (`orderedAcrossThreads`) is admitted under the
// lock, which collects every lane before it queues the value. A producer reads
// `status` before its append (`Status.sendsToLock`) and after it
// (`Status.needsAfterAppend`); the worker announces `sleeping` (a shutdown,
// `notRunning`) under the lock, then takes a last look at the listed lanes.
// Either that look sees the value or the producer sees the announcement: a
// Dekker pattern, which needs a full barrier on each side between its store and
// its load. The worker pays for both with membarrier(), so producers need only a
// compiler barrier; without membarrier(), producers fence (-DPRODUCER_FENCE;
// -DBROKEN_NO_FENCE shows one side must). The bit `sleeperFences` says which:
// it shares a word with `sleeping` and the worker reads it after announcing, so
// a producer that read it set reads the announcement too (-DFENCE_SWITCH,
// -DBROKEN_FENCE_BIT_READ_EARLY). In a process with several threads only a
// worker's thread registers for membarrier(): registering waits for a grace period.

/// Each producer thread's lane to one worker, the status word, and the
/// eventcount that puts the worker to sleep and wakes it: what is read and
/// written without the lock. The lanes' list and the queue live in `State`.
final class _Handoff: Sendable {
    /// Bits of `status`, which producers read without the lock.
    enum Status {
        /// The worker announced sleep; the first hand-off to see it claims the wake-up.
        static let sleeping: UInt8 = 1
        /// Not started yet, stopping, or stopped.
        static let notRunning: UInt8 = 2
        /// With a time bound, the worker is behind: `State.isBehind`'s home.
        static let behind: UInt8 = 4
        /// The worker holds its batch from the head: with the next bit, `State.destroyer`'s home.
        static let workerHasBatch: UInt8 = 8
        /// A producer drains the head for a time-bounded worker that fell behind.
        static let producerDrains: UInt8 = 16
        /// The worker fences for both sides with membarrier(), so producers need
        /// only a compiler barrier. Set by the worker, under the lock, before its first pass.
        static let sleeperFences: UInt8 = 32

        /// Sent to the admission under the lock. A draining producer's
        /// destructors' hand-offs are part of its drain under any policy: in a
        /// lane they could pass a barrier that covers the drain.
        static let sendsToLock = notRunning | behind | producerDrains
        static let needsAfterAppend = sleeping | notRunning

    }

    /// Never reused, unlike an address.
    let id = _nextHandoffIdentity.add(1, ordering: .relaxed).newValue
    let status = Atomic<UInt8>(Status.notRunning)
    /// Posted exactly once for each time the worker went to sleep and was needed.
    private let wakeUp = _Semaphore()

    /// Registered once: by the first worker made while the process has one
    /// thread, where the kernel does not wait, else by the first worker thread,
    /// before it takes the lock.
    static let membarrierWorks = _deferdrop_sleeper_fence_set_up() != 0

    init() {
        if _deferdrop_process_is_single_threaded() != 0 { _ = Self.membarrierWorks }
    }

    // MARK: Producers, without the lock

    /// The calling thread's lane, from the one-entry cache when it holds this
    /// hand-off's; `owner` is the queue, which the lane knows weakly.
    @inline(__always)
    func lane(of owner: AnyObject) -> UnsafeMutablePointer<_deferdrop_lane> {
        _deferdrop_current_lane(id) ?? laneNotCached(of: owner)
    }

    @inline(never)
    private func laneNotCached(of owner: AnyObject) -> UnsafeMutablePointer<_deferdrop_lane> {
        laneObject(of: owner).raw
    }

    /// Appends and publishes, then the producer's side of the Dekker pattern
    /// with the worker's last look: a compiler barrier where `seen` says the
    /// worker fences, a full fence otherwise. Returns `status` as read after.
    @inline(__always)
    func append(_ item: inout _DisposalItem?, to lane: UnsafeMutablePointer<_deferdrop_lane>, seen: UInt8) -> UInt8 {
        _Lane.append(&item, to: lane)
        _deferdrop_producer_fence(seen & Status.sleeperFences == 0 ? 1 : 0)
        return status.load(ordering: .relaxed)
    }

    func laneObject(of owner: AnyObject) -> _Lane {
        _ThreadLanes.lane(to: id, of: owner)
    }

    // MARK: The eventcount

    /// True for exactly one caller per announcement. A relaxed load first, so
    /// that a caller finding none writes nothing to the producers' line: each
    /// caller holds the lock, saw the bit after its append, or announced.
    func claimWakeUp() -> Bool {
        guard status.load(ordering: .relaxed) & Status.sleeping != 0 else { return false }
        return status.bitwiseAnd(~Status.sleeping, ordering: .sequentiallyConsistent).oldValue & Status.sleeping != 0
    }

    /// After the lock is let go.
    func wake() {
        wakeUp.signal()
    }

    /// Under the lock.
    func announceSleep() {
        set(Status.sleeping, true)
    }

    /// After it, every producer's append so far is visible, or that producer
    /// sees what the worker published before (`sleeping`, `notRunning`).
    func fenceBeforeLastLook() {
        guard status.load(ordering: .relaxed) & Status.sleeperFences != 0 else { return }
        let error = _deferdrop_sleeper_fence()
        _precondition(error == 0, "DeferDrop: membarrier() failed with errno \(error)")
    }

    /// Under the lock, before the worker's first pass; `membarrierWorks` was
    /// read before it.
    func letSleeperFence(_ membarrierWorks: Bool) {
        if membarrierWorks { set(Status.sleeperFences, true) }
    }

    func park() {
        wakeUp.wait()
    }

    func park(upTo nanoseconds: UInt64) {
        _ = wakeUp.wait(nanoseconds: nanoseconds)
        set(Status.sleeping, false)
    }

    /// Unless a producer claimed the wake-up: then its post is coming, and
    /// taking it keeps the semaphore exact.
    func withdrawAnnouncement() {
        if !claimWakeUp() { wakeUp.wait() }
    }

    /// For a diagnosis only.
    var pendingWakeUps: Int32 {
        wakeUp.value
    }

    /// Keeps its count, though a thread the child lacks may have been posting it.
    func reinitializeWakeUpInForkChild() {
        wakeUp.reinitializeInForkChild()
    }

    // MARK: Open and closed

    func open() {
        set(Status.notRunning, false)
    }

    /// A shutdown, under the lock: a producer that sees this after its append
    /// sees to its value itself. Returns whether the caller claimed the wake-up.
    func close() -> Bool {
        set(Status.notRunning, true)
        return claimWakeUp()
    }

    /// Clears every bit but `keeping`'s, `sleeperFences` too: the child's one
    /// thread fences its own hand-offs until the worker it starts sets the bit again.
    func closeInForkChild(keeping bits: UInt8) {
        status.store(Status.notRunning | status.load(ordering: .relaxed) & bits, ordering: .relaxed)
    }

    /// Under the lock (or by the worker that announced, for `sleeping`).
    func set(_ bit: UInt8, _ isSet: Bool) {
        if isSet {
            status.bitwiseOr(bit, ordering: .sequentiallyConsistent)
        } else {
            status.bitwiseAnd(~bit, ordering: .sequentiallyConsistent)
        }
    }

    /// For the bits only the lock's holder writes. Writes only those that
    /// change, so that a pass that changes nothing leaves the producers' line alone.
    func update(_ mask: UInt8, to bits: UInt8) {
        let current = status.load(ordering: .relaxed) & mask
        let cleared = current & ~bits
        let set = bits & ~current
        if cleared != 0 { status.bitwiseAnd(~cleared, ordering: .sequentiallyConsistent) }
        if set != 0 { status.bitwiseOr(set, ordering: .sequentiallyConsistent) }
    }
}

private let _nextHandoffIdentity = Atomic<UInt64>(0)
