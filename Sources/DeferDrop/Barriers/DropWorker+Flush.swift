extension DropWorker {
    /// Blocks the calling thread until every value handed to this worker before
    /// the call, by any thread, has been destroyed.
    ///
    /// The barrier is exact: when `flush()` returns, those values' destructors
    /// have finished and ``statistics`` count them as destroyed. It returns at
    /// once if nothing is pending. Values handed over during the flush may or
    /// may not be destroyed by the time it returns.
    ///
    /// Unavailable in `async` code, where it would block a thread of the
    /// cooperative pool: there, `await flush()` suspends instead. In the
    /// top-level code of a `main.swift` that awaits, Swift 6.3 picks this
    /// overload even for `await worker.flush()` and reports it as
    /// unavailable; write `await Task { await worker.flush() }.value` there,
    /// or flush from an `async` function.
    ///
    /// - Precondition: not called from a destructor running for this worker,
    ///   on its own thread or on a producer's that destroys queued values for
    ///   it while it is behind: either would wait for itself.
    @available(*, noasync, message: "blocks a thread of the cooperative pool; use `await flush()`, from an async function (in top-level code Swift picks this blocking overload even after `await`)")
    public func flush() {
        _queue.flush()
    }

    /// Suspends until every value handed to this worker before the call, by any
    /// thread, has been destroyed, without blocking a thread of the cooperative
    /// pool.
    ///
    /// In the top-level code of a `main.swift`, Swift 6.3 picks the blocking
    /// overload for `await worker.flush()`; write
    /// `await Task { await worker.flush() }.value` there.
    public func flush() async {
        await _queue.flush()
    }

    /// Like ``flush()-3ary1``, but gives up after `timeout`; returns whether every
    /// value handed over before the call has been destroyed.
    ///
    /// For code that must not hang on a destructor it cannot vouch for — one
    /// that waits for a lock the caller holds, say, which no barrier can
    /// resolve. On `false` the values are still queued and are destroyed
    /// later; nothing is lost.
    ///
    /// From a destructor running for this worker, on its thread or on a
    /// producer's that destroys queued values for a time-bounded worker that
    /// is behind, the barrier would wait for the calling thread itself: it
    /// gives up at once, without waiting, and returns `false` unless nothing
    /// was pending. (`flush()` stops the program there instead.)
    public func flush(timeout: Duration) -> Bool {
        _queue.flush(timeout: timeout)
    }
}
