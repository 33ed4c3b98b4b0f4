public import DeferDrop
import _DeferDropShims

extension ShardedDropPool {
    /// The shard the calling thread is pinned to, from 0 to ``shardCount`` - 1.
    ///
    /// A thread is pinned the first time it hands this pool a value or reads
    /// this property, and stays pinned to that shard until it exits: every
    /// value it hands to ``dispose(_:)-(Value)`` goes there. New threads go to
    /// the shard with the fewest live pinned threads, ties broken round-robin,
    /// so the first ``shardCount`` threads get distinct shards. A destructor
    /// running on one of the pool's shards is pinned to that shard itself, so
    /// the values it hands over queue behind it and `flush()` covers them.
    ///
    /// Reading it costs one thread-local load for the pool a thread used
    /// last; pinning a new thread takes a lock once.
    public var currentThreadShard: Int {
        let shard = _deferdrop_pinned_shard(_assignment.identity)
        guard shard >= 0 else { return _pinCallingThread() }
        return Int(shard)
    }

    /// The calling thread's shard's worker, unretained (the pool owns it):
    /// one thread-local load for the pool the thread used last, so that the
    /// hand-off touches no reference count that producers share.
    @usableFromInline
    var _workerOfCallingThread: Unmanaged<DropWorker> {
        if let worker = _deferdrop_pinned_worker(_assignment.identity) {
            return Unmanaged.fromOpaque(worker)
        }
        return Unmanaged.passUnretained(_workers[_pinCallingThread()])
    }

    /// Looks up or makes the calling thread's pin and caches it, off the
    /// fast path.
    @inline(never)
    private func _pinCallingThread() -> Int {
        let shard = _ThreadPins.shard(in: _assignment) {
            if let own = DropWorker._indexOfCurrentThread(in: _workers) {
                return (own, counts: false)
            }
            return (_assignment.pinNewThread(), counts: true)
        }
        _deferdrop_set_pin(_assignment.identity, Int64(shard), Unmanaged.passUnretained(_workers[shard]).toOpaque())
        return shard
    }

    /// The worker that destroys `key`'s values: equal keys get the same worker
    /// for the pool's whole life.
    ///
    /// Use it to keep order where thread pinning cannot: Swift tasks may move
    /// between threads at every `await`, so values one task hands to
    /// ``dispose(_:)-(Value)`` may reach different shards. Hand them to
    /// `worker(for: connectionID)` instead and they are destroyed in the order
    /// handed over, whichever threads hand them: in happens-before order,
    /// through the shard's `DropWorker.orderedAcrossThreads` handle, which
    /// takes the shard's lock for each hand-off.
    ///
    /// Keys are spread over the shards by their hash. `Hasher` is seeded per
    /// process, so which shard a key gets may differ between runs, never within
    /// one. The worker is one of the pool's own: ``shutdown()`` stops it too.
    public func worker(for key: some Hashable) -> DropWorker {
        _orderedWorkers[shard(for: key)]
    }

    /// The shard whose worker ``worker(for:)`` returns for `key`.
    public func shard(for key: some Hashable) -> Int {
        var hasher = Hasher()
        hasher.combine(key)
        let hash = UInt(bitPattern: hasher.finalize())
        return Int(hash % UInt(shardCount))
    }

    /// Live producer threads pinned to each shard, in shard order: what the
    /// balance sees. A pool's own worker threads are not counted.
    public var pinnedThreadCounts: [Int] {
        _assignment.pinnedThreads
    }
}
