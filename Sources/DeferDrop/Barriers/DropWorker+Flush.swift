extension DropWorker {
    /// Blocks the calling thread until every value handed to this worker before
    /// the call, by any thread, has been destroyed: their destructors have then
    /// finished and ``statistics`` counts them.
    ///
    /// Unavailable in `async` code: use `await flush()` there. (In the top-level
    /// code of a `main.swift`, Swift 6.3 picks this overload even after `await`;
    /// write `await Task { await worker.flush() }.value` there.)
    ///
    /// - Precondition: not called from a destructor running for this worker, on
    ///   its thread or a producer's destroying for it: it would wait for itself.
    @available(*, noasync, message: "blocks a thread of the cooperative pool; use `await flush()`, from an async function (in top-level code Swift picks this blocking overload even after `await`)")
    public func flush() {
        _queue.flush()
    }

    /// Suspends until every value handed to this worker before the call, by any
    /// thread, has been destroyed, without blocking a thread of the cooperative
    /// pool. (In top-level code, write `await Task { await worker.flush() }.value`.)
    public func flush() async {
        await _queue.flush()
    }

    /// Like ``flush()-3ary1``, but gives up after `timeout`; returns whether every
    /// value handed over before the call has been destroyed. On `false` they stay
    /// queued and are destroyed later. From a destructor running for this worker
    /// it returns at once: `false` unless nothing was pending.
    public func flush(timeout: Duration) -> Bool {
        _queue.flush(timeout: timeout)
    }
}
