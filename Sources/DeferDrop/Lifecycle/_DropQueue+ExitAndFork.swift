#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization
import _DeferDropShims

// The queue's part in the process lifecycle: the drain at exit, and what
// its state forgets in the child of a `fork()`.

extension _DropQueue {
    /// Runs the queue's and the worker's generic code paths once, on a
    /// throwaway queue, so that the runtime metadata they need is complete
    /// (waiting for it if another thread is building it right now). Called
    /// before every `fork()`: metadata that a parent's thread is half way
    /// through building when the process forks stays half built in the
    /// child, and the child's first use of it waits for ever.
    ///
    /// Why a replay by hand, and not something that cannot fall out of step
    /// with the code it replays: Swift has no way to ask for the metadata a
    /// function will need ahead of time, and the real paths cannot run here.
    /// They need a worker thread, which a prepare-fork handler must not
    /// start, and a queue registered with the process lifecycle, whose lock
    /// the handler is about to take. So each block below names the path it
    /// stands for, and what keeps them in step is the fork tests
    /// (`ExitAndForkTests`, and the Metrics trait's fork test): they fork
    /// while workers and producers run every path, and a missed path hangs
    /// a child, which fails them. What the lock's generic `withLock` returns
    /// on those paths is a struct or nothing, never a tuple, whose metadata
    /// an unoptimised build would make at run time (see `WorkerDecision`):
    /// one path fewer to replay.
    static func _warmUpCodePaths() {
        let object = _WarmUp()
        var state = State(capacity: .unbounded, priority: .batch, priorityFollowsCapacity: false)
        // More than a chunk, so that both of `append`'s paths and the spare
        // chunks' path of `exchange` run.
        for _ in 0..._ChunkedQueue.chunkCapacity {
            state.items.append(_DisposalItem(object: object))
            state.enqueued += 1
        }
        // And boxes, so that the release check's look inside one runs too,
        // for a boxed object (an `AnyObject` existential is boxed) and a
        // boxed collection; and a class instance through generic code, which
        // is not boxed.
        state.items.append(_DisposalItem(object: _Box<AnyObject>(_WarmUp())))
        state.items.append(_DisposalItem(boxing: [_WarmUp()]))
        state.items.append(_DisposalItem(boxing: _WarmUp()))
        state.enqueued += 3
        // And lanes: appends, then the real collect, with one lane and with
        // two, the clean-up of ended lanes, and the lookups of the
        // statistics and of a producer after a shutdown.
        let lanes = [_Lane(queue: 0), _Lane(queue: 0)]
        for lane in lanes {
            var item: _DisposalItem? = _DisposalItem(object: object)
            _Lane.append(&item, to: lane.raw)
            state.lanes.append(lane)
            collectLanes(&state)
        }
        lanes[0].ownerHasEnded.store(true, ordering: .releasing)
        collectLanes(&state)
        _ = state.lanes.reduce(0) { $0 + $1.available }
        _ = state.lanes.first { $0.raw == lanes[1].raw }
        state.lanes = []
        state.waiters.append((.destroyed(count: 1), .thread(_Semaphore())))
        state.extendBarriersOverNestedValue()
        state.roomWaiters.append(_Semaphore())
        _ = state.items.count
        var batch: [_ChunkedQueue.Chunk] = []
        // With a time bound: a batch given back unfinished (a deadline
        // already passed), a producer's drain.
        state.items.exchange(&batch)
        state.completed = destroy(&batch, on: _WorkerThreadState.detached(), until: 0) {}
        state.items.prepend(&batch)
        state.items.exchange(&batch)
        state.completed += destroy(&batch, on: nil, until: 0) {}
        state.items.prepend(&batch)
        _ = _ThreadRole.draining(object) { _ThreadRole.isDraining(object) }
        if state.takeQueueToDrain(into: &batch) {
            state.items.prepend(&batch)
        }
        state.headHolder = .nobody
        state.endCatchingUpIfCaughtUp()
        state.items.exchange(&batch)
        var destroyed = DestroyedCounts(queued: destroy(&batch, on: _WorkerThreadState.detached()) {})
        _WorkerThreadState.detached().takeCounts(into: &destroyed)
        state.publish(destroyed)
        state.items.exchange(&batch)
        _ = state.waitUntilStopped()
        // Iterated, as the worker and the producers' drain resume them.
        for waiter in state.takeReadyWaiters() { waiter.resume() }
        for room in state.takeRoomWaiters(bound: 1) { room.signal() }
        // And what `_childAfterFork()` itself uses, which runs first in the child.
        _ = _Abandoned(state.waiters)
        // And, with the `Metrics` trait, what a worker reports through.
        _WorkerMetrics._warmUpCodePaths()
    }
}

private final class _WarmUp {}

extension _DropQueue: _ProcessLifecycleParticipant {
    func _beginExitDrain() {
        if drainsAtExit { shutdown(wait: false) }
    }

    func _finishExitDrain() {
        if drainsAtExit { shutdown(wait: true) }
    }
}

extension _DropQueue {
    /// Makes the queue's lock safe across `fork()` (see `_Lock.keepAcrossFork`),
    /// with what the child must forget. Called once, from `init`.
    func keepAcrossFork() {
        state.keepAcrossFork(rank: .dropQueue) { [weak self] state in
            // The forking thread may have been this queue's worker or drained
            // it; not in the child. (One store, the same for every queue.)
            _ThreadRole.forgetInForkChild()
            state.forgetParentThreadsInForkChild()
            // No worker runs: hand-offs are admitted under the lock, whose first
            // starts one. Lanes keep their values, which it collects.
            self?.status.store(Status.notRunning, ordering: .relaxed)
            self?.owedProgress.end()
        }
    }
}

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
        switch lifecycle {
        case .running, .stopping: lifecycle = .idle
        case .idle, .stopped: break
        }
        completed = enqueued - UInt64(items.count)
        isCatchingUp = false
        headHolder = .nobody
        // The waiters' threads and tasks exist only in the parent. Resuming
        // a task's continuation here would schedule it on an executor the
        // child does not have, and dropping it unresumed would report a
        // leak: keep them, never resumed.
        if !waiters.isEmpty {
            _ = Unmanaged.passRetained(_Abandoned(waiters))
            waiters = []
        }
        roomWaiters = []
    }
}

/// Waiters of the parent process, kept alive and never resumed in a fork child.
private final class _Abandoned: Sendable {
    let waiters: [(point: _DropQueue.WaitPoint, waiter: _Waiter)]
    init(_ waiters: [(point: _DropQueue.WaitPoint, waiter: _Waiter)]) { self.waiters = waiters }
}
