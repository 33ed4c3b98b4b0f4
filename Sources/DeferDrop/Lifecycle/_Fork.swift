import _DeferDropShims

// Everything DeferDrop does about `fork()`, in one place.
//
// The child of a `fork()` has one thread, the one that forked. Three things
// of the parent's other threads would otherwise hang it for ever:
//
// 1. A mutex another thread held at that moment stays held, and the state it
//    guards stays half changed. So every lock that matters registers here
//    (`_Lock.keepAcrossFork`); the prepare handler takes them all, in
//    `_LockRank` order; the parent lets go of them; the child makes each
//    mutex new and runs the owner's `inChild` on its state, which forgets
//    what belonged to threads the child does not have.
// 2. A lazily built thing another thread was building stays "in progress":
//    `DropWorker.shared`, and the Swift runtime's metadata for the types on
//    a worker's and a producer's code paths. So the prepare handler makes
//    the shared worker, and the first fork of the process runs every code
//    path of a queue and its worker for real (`runEveryCodePathOnce`), waiting
//    for whatever another thread is building and building the rest.
// 3. Worker threads: none exist in the child. A queue becomes idle, keeping
//    its values, and the next hand-off (or the drain at exit) starts a
//    thread that destroys them (`forgetParentThreadsInForkChild`).
//
// The handlers are installed with the first fork-safe lock, so a process
// that never defers a drop runs none.

/// The package's lock hierarchy: the order in which the `fork()` prepare
/// handler takes every fork-safe lock (see `_Lock.keepAcrossFork`).
///
/// Why one list: taking many locks at once deadlocks as soon as two threads
/// take two of them in opposite orders. The handler takes them rank by rank,
/// in this order, so code may hold a lock of one rank while it takes a lock of
/// a *later* rank, never an earlier one, and never two of the same rank at
/// once. Within a rank the handler's order is arbitrary, which that rule makes
/// safe.
///
/// The registry's own lock (`_ForkSafeLocks`) comes before all of these:
/// code holding one of them never registers or frees a fork-safe lock.
package enum _LockRank: CaseIterable, Sendable {
    /// The list of workers and pools that drain at exit (`_ProcessLifecycle`).
    /// Taken alone: registering and leaving hold no other lock.
    case processLifecycle
    /// A pool's shard assignment: taken alone, once per producer thread.
    case shardAssignment
    /// A worker's queue (`_DropQueue.state`).
    case dropQueue
    /// A worker's metrics handles, which a queue's fork handling once took
    /// while holding the queue's lock: after it.
    case workerMetrics
}

extension _Lock where State: ~Copyable {
    /// Makes this lock safe across `fork()`, for as long as it lives: an
    /// owner says where its lock stands in the hierarchy and what its state
    /// must forget in the child; it writes no fork handler.
    ///
    /// Call it once, from the owner's initializer, before the lock is shared.
    /// `inChild` runs in the child alone, with no other thread left: it must
    /// not take any lock, and it must not reach the owner strongly, which may
    /// have been halfway through its `deinit` in the parent (capture it
    /// `weak`).
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
    /// Makes the mutex new and runs the lock's `inChild` on its state.
    func _reinitializeAfterForkInChild()
}

extension _Lock: _ForkSafeLock where State: ~Copyable {
    func _reinitializeAfterForkInChild() {
        let inChild = _inForkChild!
        _reinitializeAfterForkInChild { inChild(&$0) }
    }
}

/// Every lock made safe across `fork()`, and the fork handlers (`pthread_atfork`).
/// Locks are held weakly: a lock leaves the list in its `deinit`.
final class _ForkSafeLocks: Sendable {
    static let shared = _ForkSafeLocks()

    private struct Entry {
        weak var lock: (any _ForkSafeLock)?
        /// The lock's identity, by which it leaves the list.
        let identity: ObjectIdentifier
    }

    private struct State: Sendable {
        /// In the order the locks registered, which is the handlers' order
        /// within a rank, the same from one fork to the next. An array, not a
        /// dictionary: the list is short, and a dictionary's first use makes
        /// the Swift runtime search every loaded image for its key's
        /// conformance to `Hashable`, on the thread that makes the first
        /// worker, in its first hand-off.
        var entries: [Entry] = []
        /// The locks taken by the prepare handler of a fork in progress, in
        /// the order taken.
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

    /// Called from a lock's `deinit`: the lock is no longer reachable through
    /// its weak entry, so only its identity is passed.
    func unregister(_ lock: ObjectIdentifier) {
        state.withLock { state in
            if let index = state.entries.firstIndex(where: { $0.identity == lock }) { state.entries.remove(at: index) }
        }
    }

    /// Completes what another thread may be building (points 2 above), then
    /// takes this list's lock, so that no lock is made or freed meanwhile,
    /// then every registered lock in rank order (point 1).
    private func prepare() {
        _ = DropWorker.shared
        _DropQueue.runEveryCodePathOnce()
        state._lockForFork()
        state._withLockHeldForFork { state in
            let locks = state.entries.compactMap { $0.lock }
            state.takenForFork = _LockRank.allCases.flatMap { rank in locks.filter { $0._forkRank == rank } }
            for lock in state.takenForFork { lock._lockForFork() }
        }
    }

    // The list of taken locks is moved out under the lock and let go of after
    // it: it may hold the last reference to a lock whose owner went away
    // during the fork, and that lock's deinit unregisters, which takes this
    // list's lock.

    private func parent() {
        var taken: [any _ForkSafeLock] = []
        state._withLockHeldForFork { state in
            swap(&taken, &state.takenForFork)
            for lock in taken.reversed() { lock._unlockAfterForkInParent() }
        }
        state._unlockAfterForkInParent()
    }

    private func child() {
        var taken: [any _ForkSafeLock] = []
        state._reinitializeAfterForkInChild { state in
            swap(&taken, &state.takenForFork)
            for lock in taken { lock._reinitializeAfterForkInChild() }
        }
    }
}

// MARK: The queue's part

extension _DropQueue {
    /// Makes the queue's lock safe across `fork()`, with what the child must
    /// forget. Called once, from `init`.
    func keepAcrossFork() {
        state.keepAcrossFork(rank: .dropQueue) { [weak self] state in
            // The forking thread may have been this queue's worker or drained
            // it; not in the child. (One store, the same for every queue.)
            _ThreadRole.forgetInForkChild()
            state.forgetParentThreadsInForkChild()
            self?.handoff.reinitializeWakeUpInForkChild()
            self?.busySince.end()
        }
    }

    /// Runs every code path of a queue and its worker, the first time it is
    /// called in this process (by the first fork's prepare handler); later
    /// calls return at once.
    ///
    /// Why: metadata that a parent's thread is halfway through building when
    /// the process forks stays half built in the child, and the child's
    /// first use of it waits for ever. Running the paths builds what is
    /// missing and waits for what another thread is building; once built,
    /// metadata stays built, so once per process is enough.
    ///
    /// The paths run for real, on throwaway queues, one per policy, and on a
    /// thread of their own, which plays each queue's worker and then ends
    /// (no thread of the prepare handler's caller changes its role, lanes or
    /// priority). Swift cannot list the metadata a function needs, so what
    /// runs is every way a value can go rather than a list of types, and
    /// what keeps it complete is the fork tests (`ExitAndForkTests`, the
    /// Metrics trait's, and the soak's forks), which fork while workers and
    /// producers run every path: a path missed here hangs a child there.
    static func runEveryCodePathOnce() {
        _ = everyCodePathRan
    }

    /// Evaluated once, by the first `runEveryCodePathOnce()`, as any
    /// `static let` is.
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

    /// On a fresh queue, on a thread that is no worker's: hands over values
    /// of every kind, every way the policy allows (through the lane, under
    /// the lock, ordered, inline when full, drained when behind), adds and
    /// withdraws a barrier, shuts down, then plays the worker until it stops.
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
        // Owing since the clock's first tick: the next hand-off finds the
        // worker behind and drains.
        if policy.maximumWait != nil { busySince.begin(at: 1) }
        var item: _DisposalItem? = values[0]()
        enqueue(&item, acrossThreads: false)
        _ = statistics
        _ = flush(timeout: .zero)
        shutdown(wait: false)
        let stopped = state.withLock { $0.waitUntilStopped() }
        _WorkerThreadState.run(asWorkerOf: self, named: name, runWorker)
        stopped.wait()
        reconcileAfterShutdown()
    }
}

private final class _CodePathProbe {}

extension _DropQueue.State {
    /// The child has no worker thread and none of the threads that waited:
    /// back to "no thread yet", keeping the queued values, which the thread
    /// started by the next hand-off (or the drain at exit) destroys.
    ///
    /// The batch the parent's worker had taken off the queue is in that
    /// thread's memory, which the child cannot reach: those values are the
    /// parent's to finish, and the child counts them as done, so that its
    /// barriers and its bound do not wait for them for ever.
    mutating func forgetParentThreadsInForkChild() {
        // The waiters' threads and tasks exist only in the parent. Resuming
        // a task's continuation here would schedule it on an executor the
        // child does not have, and dropping it unresumed would report a
        // leak: keep them, never resumed.
        switch phase {
        case .running, .stopping:
            _ = Unmanaged.passRetained(_Abandoned(phase))
            phase = .notStarted
        case .notStarted, .stopped:
            break
        }
        counts.destroyedFromQueue = counts.queued - queued.valueCount
        // No worker runs, none is behind and no one holds the head: hand-offs
        // are admitted under the lock, whose first starts a worker. Lanes
        // keep their values, which it collects.
        handoff.closeInForkChild()
    }
}

/// Waiters of the parent process, kept alive and never resumed in a fork child.
private final class _Abandoned: Sendable {
    let phase: _DropQueue.Phase
    init(_ phase: _DropQueue.Phase) { self.phase = phase }
}
