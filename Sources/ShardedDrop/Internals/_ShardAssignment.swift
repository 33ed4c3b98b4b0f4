import DeferDrop
import Synchronization

/// Which shard each new producer thread of one pool is pinned to.
///
/// A pool pins a thread the first time the thread hands it a value, to the
/// shard with the fewest live pinned threads, ties broken round-robin from the
/// shard after the last one picked. So the first `shardCount` threads get
/// distinct shards, a thread that exits frees its place (see `_ThreadPins`),
/// and a stream of short-lived threads still spreads over every shard instead
/// of piling onto shard 0.
///
/// Only pinning takes this lock, once per thread and pool; hand-offs never do.
final class _ShardAssignment: Sendable {
    private struct State: Sendable {
        /// Live producer threads pinned to each shard.
        var pinnedThreads: [Int]
        /// Where the round-robin search for the least-loaded shard starts.
        var nextShard = 0
        /// Set when the pool is gone: threads drop their pins to it lazily.
        var isClosed = false
    }

    private let state: _Lock<State>

    /// The pool's identity for the threads' pin cache (`_deferdrop_tls_pin`):
    /// never reused, unlike an address, and never 0.
    let identity = _nextPoolIdentity.add(1, ordering: .relaxed).newValue

    init(shardCount: Int) {
        state = _Lock(State(pinnedThreads: Array(repeating: 0, count: shardCount)))
        // The child of a `fork()` keeps the counts: its other threads are gone
        // without unpinning, which skews the balance of pins made in the
        // child, never where a value goes.
        state.keepAcrossFork(rank: .shardAssignment)
    }

    /// Picks the shard for a new producer thread and counts the thread there.
    func pinNewThread() -> Int {
        state.withLock { state in
            let count = state.pinnedThreads.count
            var chosen = state.nextShard
            // A pool has at least one shard, so `count` is at least 1.
            for offset in 1..<count {
                let shard = (state.nextShard + offset) % count
                if state.pinnedThreads[shard] < state.pinnedThreads[chosen] {
                    chosen = shard
                }
            }
            state.pinnedThreads[chosen] += 1
            state.nextShard = (chosen + 1) % count
            return chosen
        }
    }

    /// Forgets a producer thread that has exited.
    func unpin(shard: Int) {
        state.withLock { $0.pinnedThreads[shard] -= 1 }
    }

    /// Live producer threads pinned to each shard, in shard order.
    var pinnedThreads: [Int] {
        state.withLock { $0.pinnedThreads }
    }

    /// Marks the pool as gone.
    func close() {
        state.withLock { $0.isClosed = true }
    }

    var isClosed: Bool {
        state.withLock { $0.isClosed }
    }
}

private let _nextPoolIdentity = Atomic<UInt64>(0)
