// Barriers: `flush()` in its three forms, each an exact count of the oldest
// values, which the worker (or a producer draining) releases as it publishes.

extension _DropQueue {
    /// Also waits for what those values' destructors hand to this worker.
    func flush() {
        addFlushBarrier()?.wait()
    }

    /// From a destructor this thread runs for the queue, the barrier would wait
    /// for this very thread: it gives up at once, saying whether anything was pending.
    func flush(timeout: Duration) -> Bool {
        if isOnWorkerThread || isDrainingOnCallingThread {
            return state.withLock { pointBehindQueuedValues(&$0) == nil }
        }
        guard let semaphore = addFlushBarrier() else { return true }
        if semaphore.wait(nanoseconds: timeout._nanoseconds) { return true }
        let withdrawn = state.withLock { $0.removeBarrier(waitingOn: semaphore) }
        if withdrawn { return false }
        // The worker took the barrier just now and is about to signal it.
        semaphore.wait()
        return true
    }

    /// `nil` if nothing is pending.
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

    func flush() async {
        await suspendUntil { [self] state in pointBehindQueuedValues(&state) }
    }

    enum WaitPoint {
        /// The first `count` values ever queued are destroyed.
        case destroyed(count: UInt64)
        case stopped
    }

    /// `nil` if all are destroyed. Values still in lanes were handed over too:
    /// they are collected first, so the count is exact.
    private func pointBehindQueuedValues(_ state: inout State) -> WaitPoint? {
        state.collectLanes()
        return state.counts.pending > 0 ? .destroyed(count: state.counts.queued) : nil
    }

    /// A queue with values and no thread, which only a fork child has, starts
    /// its thread, or nothing would reach the point.
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

    /// Not at all where `point` returns `nil`.
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
