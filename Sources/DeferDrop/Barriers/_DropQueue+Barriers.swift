// Barriers: `flush()` in its three forms, each an exact count of the oldest
// values, which the worker (or a producer draining) releases as it publishes.

extension _DropQueue {
    /// Returns once every value queued before the call has been destroyed,
    /// and every value their destructors handed to this worker in turn.
    func flush() {
        addFlushBarrier()?.wait()
    }

    /// `flush()` that gives up after `timeout`; returns whether the barrier was reached.
    ///
    /// From a destructor that the calling thread runs for this queue (its
    /// worker's, or a producer's drain), the barrier waits for this very
    /// thread: it gives up at once, as it would at the timeout, and says
    /// whether anything was pending.
    func flush(timeout: Duration) -> Bool {
        if isOnWorkerThread || isDrainingOnCallingThread {
            return state.withLock { pointBehindQueuedValues(&$0) == nil }
        }
        guard let semaphore = addFlushBarrier() else { return true }
        if semaphore.wait(timeout: timeout) { return true }
        let withdrawn = state.withLock { $0.removeBarrier(waitingOn: semaphore) }
        if withdrawn { return false }
        // The worker took the barrier just now and is about to signal it.
        semaphore.wait()
        return true
    }

    /// Registers a barrier at the current end of the queue; `nil` if nothing is pending.
    private func addFlushBarrier() -> _Semaphore? {
        _precondition(
            !isOnWorkerThread,
            """
            flush() was called on the thread of DropWorker "\(name)", from a destructor \
            that worker is running: it would wait for itself forever. Flush from another thread.
            """)
        var signals = Signals()
        defer { signal(signals) }
        return state.withLock { state in
            _precondition(
                !isDrainingOnCallingThread,
                """
                flush() was called from a destructor that this thread runs while it destroys \
                values of DropWorker "\(name)" for a worker that is behind: it would wait for \
                itself forever. Flush from another thread.
                """)
            guard let point = pointBehindQueuedValues(&state) else { return nil }
            let semaphore = _Semaphore()
            signals = addBarrierWaiter(point, .thread(semaphore), &state)
            return semaphore
        }
    }

    /// Returns once every value queued before the call has been destroyed,
    /// suspending the task rather than blocking its thread.
    func flush() async {
        await suspendUntil { [self] state in pointBehindQueuedValues(&state) }
    }

    /// How far the worker must get before a waiter may go on.
    enum WaitPoint {
        /// Until the first `count` values ever queued have been destroyed.
        case destroyed(count: UInt64)
        /// Until the worker has drained its queue and stopped.
        case stopped
    }

    /// Under the lock: the point behind every value handed over so far, or
    /// `nil` if all are destroyed. Values still in any thread's lane were
    /// handed over too: they are collected first.
    private func pointBehindQueuedValues(_ state: inout State) -> WaitPoint? {
        state.collectLanes()
        return state.counts.pending > 0 ? .destroyed(count: state.counts.queued) : nil
    }

    /// Registers `waiter` for `point`, which values not yet destroyed stand
    /// before. A queue with such values and no thread, which only a fork
    /// child has before its first hand-off, starts its thread: nothing else
    /// would reach the point: the caller signals the returned `Signals`
    /// after the lock.
    private func addBarrierWaiter(_ point: WaitPoint, _ waiter: _Waiter, _ state: inout State) -> Signals {
        switch point {
        case .destroyed(let count):
            var signals = Signals()
            if case .notStarted = state.phase { signals = beginRunning(&state) }
            state.add(Barrier(count: count, waiter: waiter))
            return signals
        case .stopped:
            state.addStopWaiter(waiter)
            return Signals()
        }
    }

    /// Suspends the calling task until the worker reaches the point that
    /// `point` names under the lock, or not at all where it returns `nil`
    /// (the point is already behind).
    func suspendUntil(_ point: @escaping (inout State) -> WaitPoint?) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            var signals = Signals()
            let mustWait = state.withLock { state in
                guard let point = point(&state) else { return false }
                signals = addBarrierWaiter(point, .task(_SuspendedTask(continuation)), &state)
                return true
            }
            signal(signals)
            if !mustWait { continuation.resume() }
        }
    }
}
