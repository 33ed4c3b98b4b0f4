// Shutdown: stop taking values, drain, stop the thread; later values are
// destroyed inline, after the drain, so that no value is lost and order holds.
// The drain at process exit is a shutdown too.

extension _DropQueue {
    /// Stops taking values, lets the worker destroy everything queued and stop,
    /// and waits for that unless `wait` is false or the caller is the worker.
    func shutdown(wait: Bool) {
        let isOnWorkerThread = isOnWorkerThread
        // Results through variables, not a tuple: see `WorkerDecision`.
        var signals = Signals()
        var drained: _Semaphore?
        state.withLock { state in
            // Values in lanes count as queued: the drain takes them too.
            state.collectLanes()
            switch state.phase {
            case .notStarted where state.queued.isEmpty:
                state.phase = .stopped
                return
            case .notStarted:
                // Values and no thread: only after fork(), in the child. Start
                // one to drain them.
                signals.startWorker = true
            case .stopped:
                return
            case .running:
                // Producers appending to lanes see this after their append,
                // and make sure of their value themselves (`reconcileAfterShutdown`).
                signals.wakeWorker = handoff.close()
            case .stopping:
                break
            }
            // Producers waiting for room go on: they now wait for the drain instead.
            signals.room = state.beginStopping()
            // From a destructor that this thread runs for the worker, on its
            // thread or in a producer's drain, waiting would wait for itself.
            guard wait, !isOnWorkerThread, !isDrainingOnCallingThread else { return }
            drained = state.waitUntilStopped()
        }
        signal(signals)
        drained?.wait()
    }

    /// Begins the shutdown and suspends until the worker has drained its
    /// queue and stopped.
    func shutdownGracefully() async {
        shutdown(wait: false)
        await suspendUntil { state in
            if case .stopped = state.phase { nil } else { .stopped }
        }
    }
}

extension _DropQueue: _ProcessLifecycleParticipant {
    func _beginExitDrain() {
        if drainsAtExit { shutdown(wait: false) }
    }

    func _finishExitDrain() {
        if drainsAtExit { shutdown(wait: true) }
    }
}
