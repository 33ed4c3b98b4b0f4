extension ShardedDropPool {
    /// Blocks the calling thread until every value handed to the pool before
    /// the call, by any thread and on any shard, has been destroyed.
    ///
    /// A barrier across all shards: it waits for each shard in turn, while all
    /// of them keep working, so it takes as long as the slowest shard.
    ///
    /// Unavailable in `async` code, where it would block a thread of the
    /// cooperative pool: there, `await flush()` suspends instead.
    ///
    /// - Precondition: not called from a destructor running on one of the
    ///   pool's shards, which would wait for itself.
    @available(*, noasync, message: "blocks a thread of the cooperative pool; use `await flush()`, from an async function (in top-level code Swift picks this blocking overload even after `await`)")
    public func flush() {
        for worker in _workers {
            worker.flush()
        }
    }

    /// Suspends until every value handed to the pool before the call, on any
    /// shard, has been destroyed, without blocking a thread of the cooperative
    /// pool.
    public func flush() async {
        for worker in _workers {
            await worker.flush()
        }
    }

    /// Like ``flush()-qffy``, but gives up once `timeout` has passed; returns
    /// whether every value handed to the pool before the call has been
    /// destroyed. On `false` nothing is lost: the values are still queued.
    public func flush(timeout: Duration) -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        for worker in _workers {
            guard worker.flush(timeout: max(deadline - clock.now, .zero)) else { return false }
        }
        return true
    }
}
