public import DeferDrop
import _DeferDropShims

/// A pool of drop workers, each producer thread pinned to one of them, so that
/// several threads free garbage at once while every producer's values are still
/// destroyed in the order it handed them over.
///
/// One `DropWorker` frees on one core, and every producer contends on its one
/// queue. A pool spreads both: it owns `shardCount` workers (its *shards*), and
/// pins each thread that hands it a value to one shard for the rest of the
/// thread's life. Hand values over as to any `Disposer`:
///
/// ```swift
/// import DeferDrop
/// import ShardedDrop
///
/// let pool = ShardedDropPool()                // one shard per processor
/// deferDrop(consume response, on: pool)       // to the calling thread's shard
/// let cache = DeferDrop(loadCache(), on: pool)
/// ```
///
/// ## Guarantees
/// - **Each producer's order.** All values one thread hands to ``dispose(_:)-(Value)``
///   go to that thread's shard, which destroys them in the order they came.
///   Values from threads pinned to different shards are destroyed concurrently,
///   in no particular order relative to each other.
/// - **Per-key order for code that hops threads.** A Swift task may resume on a
///   different thread after every `await`, so thread pinning cannot order its
///   values. ``worker(for:)`` maps a key (a connection, a session, a task's id)
///   to one shard for the pool's life, through a handle that orders hand-offs
///   across threads (`DropWorker.orderedAcrossThreads`): hand it the key's
///   values and they are destroyed in the order handed over, at the price of
///   the shard's lock for each.
/// - **Balanced pinning.** A new producer thread is pinned to the shard with
///   the fewest live producer threads, ties broken round-robin: the first
///   ``shardCount`` threads get distinct shards, and a thread that exits frees
///   its place. Pinning follows the thread itself (thread-local state), never a
///   thread id that the system may give to a later thread.
/// - **Everything a `DropWorker` guarantees, per shard.** Values are moved;
///   `flush()` is a barrier over every shard; ``shutdown()`` loses nothing.
///   With the default capacity, `DropCapacity.default` (`.unbounded`), no
///   value is ever destroyed on its producer. With `capacity: .server`, each
///   shard is bounded in time and runs only on spare CPU: while a shard is
///   more than 20 ms behind, the values handed to it are destroyed on their
///   producer, as without deferring, with the values still queued on that
///   shard, and counted in `destroyedInline`.
///
/// ## Threads
/// Shard `i`'s thread is named `<name>-<i>` (`defer-drop-0`, `defer-drop-1`, …)
/// and starts with the first value handed to that shard. Linux keeps 15 bytes
/// of a thread name (Apple platforms 63): a long name is shortened before the
/// index, so the index always shows.
///
/// ## Caveats
/// - A pool does not balance *work*, only threads: one busy producer keeps one
///   shard busy while the others idle. Use ``worker(for:)`` to spread one
///   thread's values by key, if their mutual order does not matter.
/// - `flush()` covers the values that destructors hand to their own shard, as
///   `DropWorker.flush()` does; not values a destructor hands to another shard
///   through ``worker(for:)`` after that shard was flushed.
/// - Each shard is an OS thread. More shards than processors only adds threads
///   competing with your own.
public final class ShardedDropPool: Disposer {
    /// The largest shard count a pool accepts: 1024.
    public static let maximumShardCount = 1024

    /// The default shard count: the number of processors this process may run
    /// on (its CPU affinity, which `taskset` and container cpusets narrow), at
    /// most ``maximumShardCount``.
    public static var defaultShardCount: Int {
        min(max(Int(_deferdrop_active_processor_count()), 1), maximumShardCount)
    }

    /// The pool's name, as given to ``init(shards:name:capacity:)``. Shard `i`'s worker
    /// is named `"\(name)-\(i)"`.
    public let name: String

    /// The shards' workers, in shard order.
    @usableFromInline
    let _workers: [DropWorker]

    /// Each shard's `DropWorker.orderedAcrossThreads` handle, in shard
    /// order: what ``worker(for:)`` returns.
    let _orderedWorkers: [DropWorker]

    let _assignment: _ShardAssignment

    /// How far *each* shard may fall behind: see `DropCapacity`; a bound is
    /// per shard. Setting it sets every shard's `DropWorker.capacity`, with
    /// what that says, one shard after another; reading it gives shard 0's,
    /// which is what was last set.
    public var capacity: DropCapacity {
        get { _workers[0].capacity }
        set {
            for worker in _workers { worker._setCapacity(newValue, owner: "ShardedDropPool.capacity") }
        }
    }

    /// Creates a pool of `shards` workers, each with its own thread, running at
    /// the priority that suits their capacity, `DropCapacity.defaultPriority`.
    ///
    /// No thread starts until a value is handed to its shard.
    ///
    /// - Parameters:
    ///   - shards: How many workers, from 1 to ``maximumShardCount``. The
    ///     default, ``defaultShardCount``, is one per processor available.
    ///   - name: Names the pool and, with an index, its threads. Must not be
    ///     empty and must not contain a NUL character.
    ///   - capacity: How far *each* shard may fall behind. The default,
    ///     `DropCapacity.default`, is `.unbounded`, the Rust crate's promise:
    ///     every value deferred. `.server` destroys inline while a shard is
    ///     20 ms behind. A bound must be at least 1, a wait positive.
    public convenience init(
        shards: Int = ShardedDropPool.defaultShardCount, name: String = "defer-drop",
        capacity: DropCapacity = .default
    ) {
        self.init(shards: shards, name: name, capacity: capacity, priority: nil, metrics: .defaultFactory)
    }

    /// Creates a pool whose shards' threads run in the scheduling class
    /// `priority` (see `DropPriority`).
    public convenience init(
        shards: Int = ShardedDropPool.defaultShardCount, name: String = "defer-drop",
        capacity: DropCapacity = .default, priority: DropPriority
    ) {
        self.init(shards: shards, name: name, capacity: capacity, priority: priority, metrics: .defaultFactory)
    }

    /// The pool's one designated initializer; `metrics` says where every
    /// shard reports.
    init(shards: Int, name: String, capacity: DropCapacity, priority: DropPriority?, metrics: _MetricsDestination) {
        _precondition(
            shards >= 1,
            "ShardedDropPool(shards: \(shards)): a pool needs at least one shard")
        _precondition(
            shards <= Self.maximumShardCount,
            """
            ShardedDropPool(shards: \(shards)): at most \(Self.maximumShardCount) shards; \
            each is a thread, and more than the processors available only compete for them
            """)
        DropWorker._checkName(name, of: "ShardedDropPool")
        self.name = name
        _workers = (0..<shards).map {
            DropWorker(_namePrefix: name, suffix: "-\($0)", capacity: capacity, priority: priority, metrics: metrics)
        }
        _orderedWorkers = _workers.map(\.orderedAcrossThreads)
        _assignment = _ShardAssignment(shardCount: shards)
    }

    /// The scheduling class of the shards' threads. Setting it sets every
    /// shard's `DropWorker.priority`; reading it gives shard 0's.
    public var priority: DropPriority {
        get { _workers[0].priority }
        set { for worker in _workers { worker.priority = newValue } }
    }

    /// Whether a normal process exit waits for every shard to destroy what it
    /// holds: `true` unless set otherwise. Setting it sets every shard's
    /// `DropWorker.drainsAtExit`; reading it gives shard 0's.
    public var drainsAtExit: Bool {
        get { _workers[0].drainsAtExit }
        set { for worker in _workers { worker.drainsAtExit = newValue } }
    }

    /// Lets threads drop their pins to this pool. Each shard's worker then
    /// drains what it still holds in the background and stops, as a
    /// `DropWorker` does when its last reference goes.
    deinit {
        _assignment.close()
    }

    /// The number of shards, each a worker with its own thread.
    public var shardCount: Int {
        _workers.count
    }

    /// Takes ownership of `value` and destroys it on the calling thread's
    /// shard, after every value this thread handed over before.
    ///
    /// The first value a thread hands over pins the thread to its shard: see
    /// ``currentThreadShard``. Once the pool is shut down, the value is
    /// destroyed here, in the calling thread.
    @inlinable
    public func dispose<Value: ~Copyable>(_ value: consuming sending Value) {
        DropWorker._dispose(value, to: _workerOfCallingThread)
    }

    /// Takes ownership of a class instance and destroys it on the calling
    /// thread's shard, like ``dispose(_:)-(Value)``, without boxing it first.
    @inlinable
    public func dispose<Object: AnyObject>(_ object: consuming sending Object) {
        DropWorker._dispose(object, to: _workerOfCallingThread)
    }

    /// Destroys everything pending on every shard, stops every shard's thread,
    /// and returns when all of that is done.
    ///
    /// All shards drain at once. Values handed over once shutdown has begun are
    /// destroyed inline by the thread that hands them over, after its shard has
    /// drained what came before them: nothing is lost and each producer's order
    /// holds. Calling `shutdown()` again waits for the same stop. Called from a
    /// destructor running on one of the pool's shards, it begins the shutdown
    /// and returns at once, since waiting there could wait for itself.
    ///
    /// Unavailable in `async` code, where it would block a thread of the
    /// cooperative pool: use ``shutdownGracefully()`` there.
    @available(*, noasync, message: "blocks a thread of the cooperative pool; use `await shutdownGracefully()`")
    public func shutdown() {
        for worker in _workers {
            worker._beginShutdown()
        }
        guard DropWorker._indexOfCurrentThread(in: _workers) == nil else { return }
        for worker in _workers {
            worker.shutdown()
        }
    }

    /// Destroys everything pending on every shard and stops every shard's
    /// thread, like ``shutdown()``, suspending the calling task until all of
    /// that is done rather than blocking its thread.
    ///
    /// All shards drain at once. Any number of tasks may call it at once: each
    /// returns once every shard has stopped.
    public func shutdownGracefully() async {
        for worker in _workers {
            worker._beginShutdown()
        }
        for worker in _workers {
            await worker.shutdownGracefully()
        }
    }
}
