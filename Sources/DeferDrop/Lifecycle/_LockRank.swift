/// The package's lock hierarchy: the order in which the `fork()` prepare
/// handler takes every fork-safe lock (see `_Lock.keepAcrossFork`).
///
/// Why one list: taking many locks at once deadlocks as soon as two threads
/// take two of them in opposite orders. The handler takes them rank by rank,
/// in this order, so code may hold a lock of one rank while it takes a lock of
/// a *later* rank, never an earlier one, and never two of the same rank at
/// once. Within a rank the handler's order is arbitrary, which that rule makes
/// safe.
///
/// The registry's own lock (`_ForkSafeLocks`) comes before all of these:
/// code holding one of them never registers or frees a fork-safe lock.
package enum _LockRank: Int, Comparable, Sendable {
    /// The list of workers and pools that drain at exit (`_ProcessLifecycle`).
    /// Taken alone: registering and leaving hold no other lock.
    case processLifecycle
    /// A pool's shard assignment: taken alone, once per producer thread.
    case shardAssignment
    /// A worker's queue (`_DropQueue.state`).
    case dropQueue
    /// A worker's metrics handles, which a queue's fork handling once took
    /// while holding the queue's lock: after it.
    case workerMetrics

    package static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}
