import _DeferDropShims

// Everything DeferDrop does about `fork()`. The child has one thread, and three
// things of the parent's other threads would hang it for ever:
// 1. A mutex held at the fork: every lock that matters registers here
//    (`_Lock.keepAcrossFork`), the prepare handler takes them all in `_LockRank`
//    order, and the child makes each new and runs its owner's `inChild`.
// 2. Something lazily built mid-fork: `DropWorker.shared` and the runtime's
//    metadata on a queue's paths, which the prepare handler builds first.
// 3. Worker threads: a queue whose worker is gone becomes notStarted, keeping its
//    values, and its next hand-off starts a thread; the forking thread goes on as
//    what it was, a worker or a drain (`forgetParentThreadsInForkChild`).
// The handlers are installed with the first fork-safe lock.

/// The order in which the prepare handler takes every fork-safe lock. Code may
/// hold a lock while it takes one of a later rank, never an earlier one nor two of
/// one rank, so it cannot deadlock with the handler. The registry's own lock comes
/// first: code holding one of these never registers or frees a fork-safe lock.
package enum _LockRank: CaseIterable, Sendable {
    /// `_ProcessLifecycle`'s list: taken alone.
    case processLifecycle
    /// Taken alone, once per producer thread.
    case shardAssignment
    case dropQueue
    /// After `dropQueue`: a queue's lock may be held while it is taken.
    case workerMetrics
}

extension _Lock where State: ~Copyable {
    /// Once, from the owner's initializer, before the lock is shared. `inChild`
    /// runs in the child alone: it must take no lock, and reach the owner only
    /// weakly, since it may have been halfway through its `deinit` in the parent.
    package func keepAcrossFork(rank: _LockRank, inChild: @escaping @Sendable (inout State) -> Void = { _ in }) {
        _precondition(_forkRank == nil, "keepAcrossFork(rank: \(rank)) called twice on one lock")
        _forkRank = rank
        _inForkChild = inChild
        _ForkSafeLocks.shared.register(self)
    }
}

/// A `_Lock` of any state, as the fork handlers see it.
protocol _ForkSafeLock: AnyObject, Sendable {
    var _forkRank: _LockRank? { get }
    func _lockForFork()
    func _unlockAfterForkInParent()
    func _reinitializeAfterForkInChild()
}

extension _Lock: _ForkSafeLock where State: ~Copyable {
    func _reinitializeAfterForkInChild() {
        _reinitializeAfterForkInChild(_inForkChild!)
    }
}

/// Every fork-safe lock, held weakly (a lock leaves in its `deinit`), and the
/// `pthread_atfork` handlers.
final class _ForkSafeLocks: Sendable {
    static let shared = _ForkSafeLocks()

    private struct Entry {
        weak var lock: (any _ForkSafeLock)?
        let identity: ObjectIdentifier
    }

    private struct State: Sendable {
        /// In registration order, the handlers' order within a rank. An array,
        /// not a dictionary: a dictionary's first use has the runtime search every
        /// loaded image for a `Hashable` conformance, in the first hand-off.
        var entries: [Entry] = []
        /// Taken by the prepare handler of a fork in progress, in order.
        var takenForFork: [any _ForkSafeLock] = []
    }

    /// Not registered itself: the handlers take it first and by hand.
    private let state = _Lock(State())

    private init() {
        let result = _deferdrop_at_fork(
            { _ForkSafeLocks.shared.prepare() },
            { _ForkSafeLocks.shared.parent() },
            { _ForkSafeLocks.shared.child() })
        _precondition(result == 0, "DeferDrop could not install its fork handlers: error \(result)")
    }

    func register(_ lock: some _ForkSafeLock) {
        state.withLock { $0.entries.append(Entry(lock: lock, identity: ObjectIdentifier(lock))) }
    }

    /// From a lock's `deinit`, which its weak entry no longer reaches.
    func unregister(_ lock: ObjectIdentifier) {
        state.withLock { state in
            if let index = state.entries.firstIndex(where: { $0.identity == lock }) { state.entries.remove(at: index) }
        }
    }

    /// Builds what another thread may be building (point 2 above), takes this
    /// list's lock so that no lock is made or freed meanwhile, then every
    /// registered lock in rank order (point 1), then the lanes' chunk pool's,
    /// a leaf taken under any of them.
    private func prepare() {
        _ = DropWorker.shared
        _DropQueue.runEveryCodePathOnce()
        state._lockForFork()
        state._withLockHeldForFork { state in
            let locks = state.entries.compactMap { $0.lock }
            state.takenForFork = _LockRank.allCases.flatMap { rank in locks.filter { $0._forkRank == rank } }
            for lock in state.takenForFork { lock._lockForFork() }
        }
        _deferdrop_chunk_pool_lock_for_fork()
    }

    // The taken locks are moved out under the lock and let go of after it: the
    // list may hold a lock's last reference, whose deinit takes this list's lock.

    private func parent() {
        _deferdrop_chunk_pool_unlock_after_fork_in_parent()
        var taken: [any _ForkSafeLock] = []
        state._withLockHeldForFork { state in
            swap(&taken, &state.takenForFork)
            for lock in taken.reversed() { lock._unlockAfterForkInParent() }
        }
        state._unlockAfterForkInParent()
    }

    private func child() {
        _deferdrop_chunk_pool_reinitialize_in_fork_child()
        var taken: [any _ForkSafeLock] = []
        state._reinitializeAfterForkInChild { state in
            swap(&taken, &state.takenForFork)
            for lock in taken { lock._reinitializeAfterForkInChild() }
        }
    }
}

// MARK: The queue's part

extension _DropQueue {
    func keepAcrossFork() {
        state.keepAcrossFork(rank: .dropQueue) { [weak self] state in
            // The thread that runs this is the child's one thread, the forking
            // one, and still whatever it was: from a destructor, this queue's
            // worker, or a producer draining its head, either of which goes on.
            // A queue in its deinit loads as nil: its thread is gone.
            var worksHere = false
            var drainsHere = false
            if let self {
                worksHere = _ThreadRole.isWorker(of: self)
                drainsHere = _ThreadRole.isDraining(self)
                handoff.reinitializeWakeUpInForkChild()
                if !worksHere { busySince.end() }
            }
            state.forgetParentThreadsInForkChild(workerRunsHere: worksHere, drainsHere: drainsHere)
        }
    }

    /// Once per process: metadata a parent's thread is halfway through building
    /// at a fork stays half built in the child, whose first use of it waits for
    /// ever. Running every path for real, on throwaway queues, one per policy, on
    /// a thread of its own, builds what is missing and waits for what is being
    /// built. Swift cannot list the metadata a path needs: what keeps this
    /// complete is the fork tests, where a path missed here hangs a child.
    static func runEveryCodePathOnce() {
        _ = everyCodePathRan
    }

    private static let everyCodePathRan: Void = _Thread(named: "DeferDrop fork") {
        let capacities: [DropCapacity] = [
            .unbounded, .bounded(1, whenFull: .destroyInline), .timeBounded(maximumWait: .nanoseconds(1)),
        ]
        for capacity in capacities {
            let queue = _DropQueue(
                name: "fork", threadName: "", capacity: capacity, owner: "fork", priority: nil,
                metrics: _WorkerMetrics.forCodePathRun)
            queue.runEveryCodePath()
        }
    }.join()

    /// Every kind of value, every way the policy allows, a barrier, a shutdown,
    /// then the worker's loop until it stops.
    private func runEveryCodePath() {
        // Running, with no thread of its own: this one is its worker below.
        state.withLock { $0.phase = .running(barriers: [], roomWaiters: []) }
        handoff.open()
        let values: [() -> _DisposalItem] = [
            { _DisposalItem(object: _CodePathProbe()) },
            { _DisposalItem(object: _Box<AnyObject>(_CodePathProbe())) },
            { _DisposalItem(boxing: [_CodePathProbe()]) },
            { _DisposalItem(boxing: _CodePathProbe()) },
        ]
        // More than a lane's chunk, so that the lane grows.
        for index in 0...Int(DEFERDROP_LANE_CHUNK_CAPACITY) {
            var item: _DisposalItem? = values[index % values.count]()
            enqueue(&item, acrossThreads: index % 7 == 0)
        }
        // A batch cut short at its deadline and given back, as a time bound's is.
        var batch: [_Lane.Segment] = []
        state.withLock { state in
            state.collectLanes()
            state.takeQueue(into: &batch, by: .worker)
        }
        let destroyed = Self.destroy(&batch, on: nil, until: 0)
        state.withLock { state in
            state.counts.add(_Counts(destroyedFromQueue: destroyed))
            state.giveBack(&batch)
            state.destroyer = .nobody
        }
        // Busy since the clock's first tick: the next hand-off drains.
        if policy.maximumWait != nil { busySince.begin(at: 1) }
        var item: _DisposalItem? = values[0]()
        enqueue(&item, acrossThreads: false)
        _ = statistics
        _ = flush(timeout: .zero)
        shutdown(wait: false)
        let stopped = state.withLock { $0.waitUntilStopped() }
        _WorkerThreadState.run(asWorkerOf: self, runWorker)
        stopped.wait()
        reconcileAfterShutdown()
    }
}

private final class _CodePathProbe {}

extension _DropQueue.State {
    /// The parent's waiters are abandoned: resuming a task would schedule it
    /// on an executor the child lacks, dropping it would report a leak. A
    /// worker that is the forking thread goes on. Otherwise the queue is back
    /// to "no thread yet", keeping its values, and the batch the parent's
    /// worker, or another thread's drain, held is out of the child's reach: it
    /// counts as done, so that barriers and the bound do not wait for it for
    /// ever. A drain by the forking thread goes on, holding the head.
    mutating func forgetParentThreadsInForkChild(workerRunsHere: Bool, drainsHere: Bool) {
        switch phase {
        case .running:
            _ = Unmanaged.passRetained(_Abandoned(phase))
            phase = workerRunsHere ? .running(barriers: [], roomWaiters: []) : .notStarted
        case .stopping:
            _ = Unmanaged.passRetained(_Abandoned(phase))
            phase = workerRunsHere ? .stopping(barriers: [], untilStopped: []) : .notStarted
        case .notStarted, .stopped:
            break
        }
        if workerRunsHere {
            workerThreadID = _deferdrop_current_thread_id()
            return
        }
        if !drainsHere { counts.destroyedFromQueue = counts.queued - queued.valueCount }
        // Hand-offs go to the lock, whose first starts a worker; lanes keep their values.
        handoff.closeInForkChild(keeping: drainsHere ? _Handoff.Status.producerDrains : 0)
    }
}

/// Waiters of the parent process, kept alive and never resumed in a fork child.
private final class _Abandoned: Sendable {
    let phase: _DropQueue.Phase
    init(_ phase: _DropQueue.Phase) { self.phase = phase }
}
