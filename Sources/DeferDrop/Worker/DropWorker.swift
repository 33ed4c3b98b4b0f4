/// A background thread that destroys the values handed to it, one after
/// another, in the order they arrive.
///
/// ``shared`` is the package's global worker, the one ``DeferDrop`` and
/// ``deferDrop(_:)-(Value)`` use by default, as the Rust crate `defer-drop` has one
/// global thread. Create a worker of your own with ``init(name:capacity:)`` to keep a
/// subsystem's garbage apart, to see its ``statistics`` alone, or to
/// ``shutdown()`` it when the subsystem stops.
///
/// ## Guarantees
/// - **Off the caller's thread.** With the default capacity,
///   ``DropCapacity/unbounded`` (the crate's), a value handed over is
///   destroyed on the worker's thread, never on the thread that handed it
///   over. Ownership is *moved* into the queue, so the caller cannot end up
///   doing the final release. What you choose otherwise is counted in
///   ``DropStatistics/destroyedInline``: values handed over after
///   ``shutdown()`` (see below), a count bound's
///   ``OverflowPolicy/destroyInline``, and a time bound's values while the
///   worker is behind (``DropCapacity/server``). What a value's own
///   references do is counted in ``DropStatistics/releasedElsewhere``, and
///   ``DeferDrop/take()`` hands a value back undeferred.
/// - **In order, per thread.** Everything one thread hands over is destroyed
///   in that thread's order, as the crate's channel does. Values from
///   different threads may be destroyed in either order, even when one
///   thread's hand-off happened before the other's.
/// - **In order across threads, on request.** Code whose values move
///   between threads (a Swift task may resume on another thread after every
///   `await`) hands them to ``orderedAcrossThreads``: a value handed over
///   there is destroyed after every value handed to this worker before it,
///   in happens-before order, from any thread. (Under a time bound, one that
///   is destroyed inline because the worker is behind orders nothing.)
/// - **Cheap for the producer.** A hand-off takes no lock and writes nothing
///   another producer writes: the value goes into a queue of the calling
///   thread's own. It makes a system call only when the worker is asleep and
///   must be woken; while the worker is busy, hand-offs never make one. An
///   idle worker sleeps; it never polls. With a count bound, on a thread's
///   first hand-off, and through ``orderedAcrossThreads``, a hand-off is one
///   short critical section instead.
/// - **Nothing lost.** ``shutdown()`` destroys everything pending before it
///   returns; values handed over after it are destroyed inline by the caller.
///   Dropping the last reference to a private worker stops it the same way, in
///   the background.
/// - **Nested values, depth first, as the crate.** A destructor running on the
///   worker that hands further values to it (a structure holding ``DeferDrop``
///   wrappers, or a chain of them) has them destroyed right there, depth first,
///   up to ``maximumNestingDepth`` levels; deeper ones are queued, so a chain
///   of any length neither deadlocks nor overflows the worker's stack. They
///   count as deferred and destroyed by the worker.
///
/// ## Threads
/// A worker starts its thread on the first value it is given, so an unused
/// worker costs no thread. The thread is named after the worker: see ``name``.
///
/// - **Unbounded by default, bounded in one line.** ``capacity`` may be set
///   at any time: to ``DropCapacity/server`` (at most 20 ms behind, then
///   producers free their own values) or to `.bounded(n, whenFull:)` (at
///   most `n` values waiting): see ``DropCapacity``.
/// - **A fair share of CPU, and never preempts its producers.** A worker
///   with the default capacity or a count bound runs in `SCHED_BATCH`, a fair
///   share that never preempts a running thread on wake-up; a time-bounded
///   one in `SCHED_IDLE`, on what your threads leave: see ``priority`` and
///   ``DropPriority``.
/// - **Drained at exit.** A normal process exit waits until every worker has
///   destroyed what it holds, unless ``drainsAtExit`` is `false`.
/// - **fork()-safe.** In a child process the worker starts a new thread on
///   its first hand-off; no lock is inherited mid-section.
///
/// ## Caveats
/// - Memory stays allocated until the worker has destroyed the value. If values
///   are produced faster than one thread can destroy them, an
///   ``DropCapacity/unbounded`` queue (the default, the crate's) grows
///   without bound; a time bound's producers free inline instead
///   (``DropCapacity/server``). The `ShardedDrop` module's
///   `ShardedDropPool` spreads the work over several workers.
/// - A worker at ``DropPriority/idle`` (a time-bounded one's) gets almost no CPU
///   while every core is busy: a `flush()` there waits until the machine has
///   some to spare. The time bound keeps what it waits for to about 20 ms of
///   production, but on a saturated machine that may take seconds to free.
///   Give a worker you flush under full load ``DropPriority/batch``.
/// - A destructor that waits for a lock held by a thread blocked in `flush()`
///   deadlocks both, as with any barrier; ``flush(timeout:)`` can give up.
/// - Calling `flush()` from a destructor that runs for the same worker is a
///   precondition failure: the worker would wait for itself. That includes a
///   destructor a producer runs while it destroys queued values for a
///   time-bounded worker that is behind. ``flush(timeout:)`` returns at once
///   there instead.
/// - In `async` code, `flush()` and ``shutdown()`` would block a thread of the
///   cooperative pool, so they are unavailable there: `await flush()` and
///   ``shutdownGracefully()`` suspend instead.
public final class DropWorker: Disposer {
    /// The global worker, whose thread is named `defer-drop`.
    ///
    /// Its thread starts on first use. ``DeferDrop/init(_:)`` and
    /// ``deferDrop(_:)-(Value)`` hand values to it.
    ///
    /// In a hot loop, hand values over with ``deferDrop(_:)-(Value)``, or
    /// keep this worker in a constant of your own: `DropWorker.shared.dispose(_:)`
    /// compiled in another module retains and releases the worker around
    /// every call, two atomic writes to one line that every producer thread
    /// then writes. The same holds for any worker that a call site copies
    /// out of a variable or an enum payload first.
    public static let shared = DropWorker(
        _name: "defer-drop", threadName: "defer-drop", capacity: .default, owner: "DropWorker", priority: nil,
        metrics: .defaultFactory)

    /// The worker's name, as given to ``init(name:capacity:)``.
    ///
    /// It is also the name of the worker's OS thread, as `top -H`, `gdb`,
    /// `/proc/<pid>/task/<tid>/comm` and Instruments show it. Linux keeps at
    /// most 15 bytes of a thread name and Apple platforms 63, so the thread
    /// carries the longest prefix of `name` that fits without splitting a
    /// character. (The POSIX-only platform layer names no threads.)
    public let name: String

    @usableFromInline
    let _queue: _DropQueue

    /// For a handle made by ``orderedAcrossThreads``: the worker it hands
    /// over to, which it keeps alive; `nil` for the worker itself, which
    /// stops once its last reference, a handle's included, is gone.
    @usableFromInline
    let _orderedHandleOf: DropWorker?

    /// How far this worker may fall behind: see ``DropCapacity``. Reading it
    /// gives back what was last set.
    ///
    /// Setting it takes effect for the hand-offs that follow, and is safe
    /// while other threads hand values over: nothing is lost or destroyed
    /// twice, and each producer's values stay in order. Any capacity may
    /// change to any other:
    /// - values already pending stay queued and are destroyed by the worker,
    ///   or, under a time bound while it is behind, by producers, oldest
    ///   first. A new count bound below what is pending makes producers wait
    ///   (``OverflowPolicy/block``) or destroy inline until the worker is
    ///   below it again;
    /// - producers waiting for room try again under the new capacity;
    /// - a worker whose priority was never given (at creation or through
    ///   ``priority``) takes the new capacity's
    ///   ``DropCapacity/defaultPriority``. Leaving ``DropPriority/idle``
    ///   needs a privilege (see ``DropPriority``): without it, a worker that
    ///   once ran at `.idle` stays there.
    ///
    /// The server recipe, at startup:
    ///
    /// ```swift
    /// DropWorker.shared.capacity = .server
    /// ```
    public var capacity: DropCapacity {
        get { _queue.capacity }
        set { _setCapacity(newValue, owner: "DropWorker.capacity") }
    }

    /// Sets ``capacity``; `owner` names the property in a precondition's message.
    package func _setCapacity(_ capacity: DropCapacity, owner: String) {
        _queue.setCapacity(capacity, owner: owner)
    }

    /// Creates a private worker with its own thread, running at the priority
    /// that suits its capacity, ``DropCapacity/defaultPriority``.
    ///
    /// The thread starts when the first value is handed over.
    ///
    /// - Parameters:
    ///   - name: Names the worker and its thread. Must not be empty and must
    ///     not contain a NUL character.
    ///   - capacity: How far the worker may fall behind. The default,
    ///     ``DropCapacity/default``, is ``DropCapacity/unbounded``, the Rust
    ///     crate's promise; ``DropCapacity/server`` destroys inline while the
    ///     worker is 20 ms behind. A bound must be at least 1, a wait positive.
    public convenience init(name: String, capacity: DropCapacity = .default) {
        self.init(checkingName: name, capacity: capacity, priority: nil, metrics: .defaultFactory)
    }

    /// Creates a private worker with its own thread, running in the scheduling
    /// class `priority`.
    ///
    /// - Parameters:
    ///   - name: Names the worker and its thread. Must not be empty and must
    ///     not contain a NUL character.
    ///   - capacity: How far the worker may fall behind: see ``DropCapacity``.
    ///   - priority: The worker thread's scheduling class: see ``DropPriority``.
    public convenience init(name: String, capacity: DropCapacity = .default, priority: DropPriority) {
        self.init(checkingName: name, capacity: capacity, priority: priority, metrics: .defaultFactory)
    }

    /// A worker named `name`, after checking the name; a `nil` priority follows the capacity.
    convenience init(checkingName name: String, capacity: DropCapacity, priority: DropPriority?, metrics: _MetricsDestination) {
        Self._checkName(name, of: "DropWorker")
        self.init(
            _name: name, threadName: _WorkerThread.osName(for: name),
            capacity: capacity, owner: "DropWorker", priority: priority, metrics: metrics)
    }

    /// A worker named `prefix + suffix` whose thread name keeps the whole of
    /// `suffix`, cutting `prefix` to fit: how a pool names its shards
    /// (`"defer-drop" + "-3"`). The caller has checked `prefix`; `capacity` is
    /// checked here, in the pool's name.
    package convenience init(
        _namePrefix prefix: String, suffix: String, capacity: DropCapacity, priority: DropPriority?,
        metrics: _MetricsDestination
    ) {
        self.init(
            _name: prefix + suffix, threadName: _WorkerThread.osName(for: prefix, keeping: suffix),
            capacity: capacity, owner: "ShardedDropPool", priority: priority, metrics: metrics)
    }

    private init(
        _name name: String, threadName: String,
        capacity: DropCapacity, owner: String, priority: DropPriority?, metrics: _MetricsDestination
    ) {
        self.name = name
        _queue = _DropQueue(
            name: name, threadName: threadName, capacity: capacity, owner: owner, priority: priority,
            metrics: _WorkerMetrics(metrics, workerName: name))
        _orderedHandleOf = nil
    }

    /// The handle ``orderedAcrossThreads`` returns.
    private init(orderedHandleOf worker: DropWorker) {
        name = worker.name
        _queue = worker._queue
        _orderedHandleOf = worker
    }

    /// A handle to this worker whose hand-offs are ordered across threads: a
    /// value handed to it is destroyed after every value handed to this
    /// worker before it, in happens-before order, whichever threads handed
    /// them over (through this handle or not).
    ///
    /// Use it for values that code moving between threads hands over: a
    /// Swift task may resume on another thread after every `await`, and the
    /// worker's own hand-off orders only each thread's values. Happens-before
    /// order is what a lock, an `await` or a queue between two hand-offs
    /// gives; hand-offs that race are ordered either way. Under a time bound
    /// (``DropCapacity/server``), a value the handle destroys inline because
    /// the worker is behind orders nothing: values handed over before and
    /// after it keep only their own threads' order.
    ///
    /// The price is the worker's lock: each hand-off through the handle is
    /// one short critical section, which producers handing over at the same
    /// moment contend for. The worker's plain hand-off takes no lock and
    /// writes nothing that another producer writes, which keeps many
    /// producers from slowing each other down.
    ///
    /// The handle is this worker in every other respect: the same queue,
    /// ``name``, ``capacity``, ``statistics``, `flush()` and ``shutdown()``.
    /// It keeps the worker alive. Each read makes a new handle, so keep one
    /// where you hand over often; `ShardedDropPool.worker(for:)` returns one.
    public var orderedAcrossThreads: DropWorker {
        _orderedHandleOf == nil ? DropWorker(orderedHandleOf: self) : self
    }

    /// The scheduling class of the worker's thread: its capacity's
    /// ``DropCapacity/defaultPriority`` unless set otherwise, so
    /// ``DropPriority/batch`` for ``shared`` and for any worker made with the
    /// default capacity. Until it is set, it follows ``capacity``.
    ///
    /// Settable at any time, ``shared``'s too; the worker applies a change
    /// before it destroys its next value (a sleeping worker wakes to apply
    /// it). What each priority means on each platform: ``DropPriority``. On
    /// Linux, raising a worker out of ``DropPriority/idle`` needs
    /// `CAP_SYS_NICE`: without it the thread stays idle.
    public var priority: DropPriority {
        get { _queue.priority }
        set { _queue.priority = newValue }
    }

    /// The scheduling class the worker's thread is in, as the system reported
    /// it when the worker last applied ``priority``; `nil` before its thread
    /// has started.
    ///
    /// Usually ``priority``'s ``DropPriority/schedulingClass``. It says
    /// otherwise where the system refused the change (raising a Linux thread
    /// out of `SCHED_IDLE` without `CAP_SYS_NICE`), and it is
    /// ``DropSchedulingClass/unchanged`` on a platform layer that sets no
    /// class. After a change of ``priority``, the worker applies it before it
    /// destroys its next value: read this once a value handed over after the
    /// change has been destroyed (a ``DropWorker/flush()-3ary1`` that waited for one).
    public var schedulingClass: DropSchedulingClass? {
        let number = _queue.schedulingClass.load(ordering: .acquiring)
        return number < 0 ? nil : DropSchedulingClass(_layerClass: number)
    }

    /// Whether a normal process exit waits for this worker to destroy
    /// everything handed to it. `true` unless set otherwise, for every worker.
    ///
    /// Returning from `main` or calling `exit()` runs a handler that shuts down
    /// every live worker that drains at exit, all at once, and waits for them:
    /// destructors that write files or flush buffers see their work land, and
    /// values handed over during the exit itself (by other `atexit` handlers)
    /// are destroyed inline. Set it to `false` for the Rust crate's fast exit,
    /// where whatever is still queued is simply lost with the process:
    ///
    /// ```swift
    /// DropWorker.shared.drainsAtExit = false
    /// ```
    ///
    /// `_exit()`, a crash or a signal ends the process without any drain.
    public var drainsAtExit: Bool {
        get { _queue.drainsAtExit }
        set { _queue.drainsAtExit = newValue }
    }

    /// Stops the program with a message naming `type` and `name` unless `name`
    /// can name a thread: not empty, no NUL character.
    package static func _checkName(_ name: String, of type: String) {
        _precondition(
            !name.isEmpty,
            "\(type)(name: \"\"): the name is empty; it names the worker's thread, so give it one")
        _precondition(
            !name.utf8.contains(0),
            "\(type)(name: \(name.debugDescription)): the name contains a NUL character, which a thread name cannot hold")
    }

    /// Stops the worker without waiting: its thread destroys everything still
    /// queued, then exits. (A handle's going leaves its worker to it.)
    deinit {
        if _orderedHandleOf == nil { _queue.shutdown(wait: false) }
    }

    /// Takes ownership of `value` and destroys it on this worker's thread,
    /// after every value the calling thread handed over before (and, through
    /// ``orderedAcrossThreads``, every value handed over before it).
    ///
    /// Once the worker has been shut down, the value is destroyed here, in the
    /// calling thread, before this method returns.
    @inlinable
    public func dispose<Value: ~Copyable>(_ value: consuming sending Value) {
        var item: _DisposalItem? = _DisposalItem(boxing: value)
        _queue.enqueue(&item, acrossThreads: _orderedHandleOf != nil)
    }

    /// Takes ownership of a class instance and destroys it on this worker's
    /// thread, like ``dispose(_:)-(Value)``, without boxing it first.
    @inlinable
    public func dispose<Object: AnyObject>(_ object: consuming sending Object) {
        var item: _DisposalItem? = _DisposalItem(object: consume object)
        _queue.enqueue(&item, acrossThreads: _orderedHandleOf != nil)
    }

    /// For pools: hands `value` to `worker` as ``dispose(_:)-(Value)`` does,
    /// without touching the worker's reference count, which every producer
    /// pinned to that shard would otherwise write. The caller keeps `worker`
    /// alive.
    @inlinable
    package static func _dispose<Value: ~Copyable>(_ value: consuming sending Value, to worker: Unmanaged<DropWorker>) {
        var item: _DisposalItem? = _DisposalItem(boxing: value)
        worker._withUnsafeGuaranteedRef { $0._queue.enqueue(&item, acrossThreads: false) }
    }

    /// For pools: hands the class instance `object` to `worker`, like
    /// ``_dispose(_:to:)-(Value,_)``, without boxing it first.
    @inlinable
    package static func _dispose<Object: AnyObject>(_ object: consuming sending Object, to worker: Unmanaged<DropWorker>) {
        var item: _DisposalItem? = _DisposalItem(object: consume object)
        worker._withUnsafeGuaranteedRef { $0._queue.enqueue(&item, acrossThreads: false) }
    }

    /// Destroys everything pending, stops the worker's thread, and returns when
    /// both are done.
    ///
    /// Values handed over once shutdown has begun are destroyed inline, in the
    /// thread that hands them over, after the worker has drained the values
    /// queued before them; so no value is lost and each thread's order holds.
    /// Destructors the worker runs while draining may still hand it values: it
    /// destroys those too before it stops. Calling `shutdown()` again, from any
    /// thread, waits for the same stop. Called from a destructor running for
    /// the worker (on its thread, or on a producer's that destroys queued
    /// values for a time-bounded worker that is behind), it begins the
    /// shutdown and returns at once: waiting there would wait for itself.
    ///
    /// Shutting down ``shared`` makes every later ``deferDrop(_:)-(Value)`` destroy
    /// inline, for the rest of the process.
    ///
    /// Unavailable in `async` code, where it would block a thread of the
    /// cooperative pool: use ``shutdownGracefully()`` there.
    @available(*, noasync, message: "blocks a thread of the cooperative pool; use `await shutdownGracefully()`")
    public func shutdown() {
        _queue.shutdown(wait: true)
    }

    /// Destroys everything pending and stops the worker's thread, like
    /// ``shutdown()``, suspending the calling task until both are done rather
    /// than blocking its thread.
    ///
    /// Every value handed over before the call is destroyed by the time it
    /// returns; values handed over after shutdown has begun are destroyed
    /// inline, as with ``shutdown()``. Any number of tasks may call it at once:
    /// each returns once the worker has stopped.
    public func shutdownGracefully() async {
        await _queue.shutdownGracefully()
    }

    /// Begins ``shutdown()`` without waiting for it: the worker drains in the
    /// background. For pools, which start every shard's drain before waiting
    /// for any.
    package func _beginShutdown() {
        _queue.shutdown(wait: false)
    }

    /// One paragraph per live worker in the process, pools' shards included:
    /// its lifecycle, what is pending where, its thread and whether that
    /// thread exists, and who waits. For diagnosing a worker that makes no
    /// progress (the fork tests print it from a child whose flush timed out).
    package static var _diagnosesOfEveryWorker: [String] {
        _ProcessLifecycle.shared.diagnoses
    }

    /// Which of `workers` the calling thread is the thread of, that is, whose
    /// destructor the caller is; `nil` if none. For pools: one read of the
    /// thread's role (`_ThreadRole`), however many workers.
    package static func _indexOfCurrentThread(in workers: [DropWorker]) -> Int? {
        _ThreadRole.indexOfWorker(among: workers.lazy.map(\._queue))
    }

    /// How many values, one inside another's destructor, a worker destroys in
    /// place before it queues the next one instead: 64.
    ///
    /// A value handed to a worker by a destructor that same worker is running
    /// (a wrapped structure that holds ``DeferDrop`` wrappers, say) is
    /// destroyed right there, depth first, as the Rust crate does: its nested
    /// wrappers are gone when the outer value's destructor returns, in the
    /// order a plain drop would give. Each level adds a few stack frames, so
    /// past this depth the next value is queued instead and destroyed when the
    /// worker gets to it, at depth zero again: a chain of any length neither
    /// overflows the worker's stack nor deadlocks. 64 levels take a few
    /// kilobytes of a worker thread's 8 MiB stack.
    ///
    /// A hand-off that does not hold the last reference to its value (a
    /// destructor handing over a copy of its own stored property, say) is
    /// queued too, whatever the depth: releasing it in place would not
    /// destroy it.
    public static let maximumNestingDepth = _DropQueue.maximumNestingDepth

    /// How deep the calling thread is in destroying nested values in place for
    /// the worker it runs: 0 at the top of a worker's loop and on every other
    /// thread. For tests.
    package static var _currentNestingDepth: Int {
        _WorkerThreadState.currentNestingDepth
    }
}
