// Shutdown, and the drain at process exit: later values are destroyed inline,
// after the drain, so that no value is lost and each producer's order holds.

extension _DropQueue {
    /// Waits for the drain unless `wait` is false or the caller is the worker.
    func shutdown(wait: Bool) {
        let isOnWorkerThread = isOnWorkerThread
        // Results through variables, not a tuple: see `WorkerDecision`.
        var signals = Signals()
        var drained: _Semaphore?
        state.withLock { state in
            state.collectLanes()
            switch state.phase {
            case .notStarted where state.queued.isEmpty && state.destroyer == .nobody:
                state.phase = .stopped
                return
            case .notStarted:
                // Values, or a drain that gives some back, and no thread: only in a
                // fork child. Start one to destroy them.
                signals.startWorker = true
            case .stopped:
                return
            case .running:
                // A producer that sees this after its append sees to its value
                // itself (`reconcileAfterShutdown`).
                signals.wakeWorker = handoff.close()
            case .stopping:
                break
            }
            signals.room = state.beginStopping()
            // From a destructor this thread runs for the worker, waiting would wait for itself.
            guard wait, !isOnWorkerThread, !isDrainingOnCallingThread else { return }
            drained = state.waitUntilStopped()
        }
        signal(signals)
        drained?.wait()
    }

    func shutdownGracefully() async {
        shutdown(wait: false)
        await suspendUntil { state in
            if case .stopped = state.phase { nil } else { .stopped }
        }
    }

    /// At a normal exit, unless `drainsAtExit` is false: `_ProcessLifecycle`
    /// begins every queue's drain, then waits for each.
    func shutdownAtExit(wait: Bool) {
        if drainsAtExit { shutdown(wait: wait) }
    }
}
