/// A background thread that destroys the values handed to it.
///
/// ``shared`` is the global worker that ``DeferDrop`` and
/// ``deferDrop(_:)-(Value)`` use. Create one with ``init(name:capacity:)`` to
/// keep a subsystem's garbage, ``statistics`` and ``shutdown()`` apart. Its
/// thread starts with its first value.
///
/// ## Guarantees
/// - **Off the caller's thread.** With the default capacity, a value is moved
///   into the queue and destroyed on the worker's thread. What you opt into
///   otherwise (a hand-off after ``shutdown()``, a count bound's
///   ``OverflowPolicy/destroyInline``, a time bound while the worker is
///   behind) counts in ``DropStatistics/destroyedInline``.
/// - **In order, per thread.** Each thread's values are destroyed in its
///   order; across threads, only through ``orderedAcrossThreads``.
/// - **Cheap for the producer.** A hand-off takes no lock, writes nothing
///   another producer writes, and makes a system call only to wake a sleeping
///   worker, which never polls. A count bound, a thread's first hand-off and
///   ``orderedAcrossThreads`` take one short critical section instead.
/// - **Nothing lost.** ``shutdown()``, or the end of a private worker's last
///   reference, destroys everything pending; later values are destroyed
///   inline. A normal exit drains every worker unless ``drainsAtExit`` is `false`.
/// - **Nested values, depth first.** What a destructor on the worker hands to
///   it is destroyed right there, up to ``maximumNestingDepth`` levels deep.
/// - **fork()-safe.** In a child process the worker starts a new thread.
///
/// Memory stays allocated until the worker has freed it: see <doc:Caveats>.
public final class DropWorker: Disposer {
    /// The global worker, whose thread is named `defer-drop`. In a hot loop,
    /// prefer ``deferDrop(_:)-(Value)``: `DropWorker.shared.dispose(_:)` from
    /// another module retains and releases the worker around every call.
    public static let shared = DropWorker(
        checkingName: "defer-drop", capacity: .default, priority: nil, metrics: .defaultFactory)

    /// The worker's name, and its OS thread's, cut to what the system keeps
    /// (15 bytes on Linux, 63 on Apple platforms) without splitting a character.
    public let name: String

    @usableFromInline
    let _queue: _DropQueue

    /// For a handle from `orderedAcrossThreads`, the worker it keeps alive;
    /// `nil` for the worker itself.
    @usableFromInline
    let _orderedHandleOf: DropWorker?

    /// How far this worker may fall behind: see ``DropCapacity``.
    ///
    /// Safe to set at any time, while others hand values over: nothing is lost
    /// or destroyed twice, each producer's order holds, pending values stay
    /// queued and waiting producers try again. A worker whose ``priority`` was
    /// never given takes the new capacity's ``DropCapacity/defaultPriority``.
    public var capacity: DropCapacity {
        get { _queue.capacity }
        set { _setCapacity(newValue, owner: "DropWorker.capacity") }
    }

    /// `owner` names the property in a precondition's message.
    package func _setCapacity(_ capacity: DropCapacity, owner: String) {
        _queue.setCapacity(capacity, owner: owner)
    }

    /// Creates a private worker, running at its capacity's
    /// ``DropCapacity/defaultPriority``. `name` names it and its thread, and
    /// must be non-empty and free of NUL characters.
    public convenience init(name: String, capacity: DropCapacity = .default) {
        self.init(checkingName: name, capacity: capacity, priority: nil, metrics: .defaultFactory)
    }

    /// Creates a private worker whose thread runs at `priority`; `name` as for
    /// ``init(name:capacity:)``.
    public convenience init(name: String, capacity: DropCapacity = .default, priority: DropPriority) {
        self.init(checkingName: name, capacity: capacity, priority: priority, metrics: .defaultFactory)
    }

    /// A `nil` priority follows the capacity.
    convenience init(checkingName name: String, capacity: DropCapacity, priority: DropPriority?, metrics: _MetricsDestination) {
        Self._checkName(name, of: "DropWorker")
        self.init(
            _name: name, threadName: _Thread.osName(for: name),
            capacity: capacity, owner: "DropWorker", priority: priority, metrics: metrics)
    }

    /// A pool's shard, `prefix + suffix`, whose thread name keeps all of
    /// `suffix` (`"defer-drop" + "-3"`). The caller has checked `prefix`.
    package convenience init(
        _namePrefix prefix: String, suffix: String, capacity: DropCapacity, priority: DropPriority?,
        metrics: _MetricsDestination
    ) {
        self.init(
            _name: prefix + suffix, threadName: _Thread.osName(for: prefix, keeping: suffix),
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

    private init(orderedHandleOf worker: DropWorker) {
        name = worker.name
        _queue = worker._queue
        _orderedHandleOf = worker
    }

    /// A handle to this worker whose hand-offs are ordered across threads: a
    /// value handed to it is destroyed after every value handed to this worker
    /// before it, in happens-before order, from any thread.
    ///
    /// For code that moves between threads, as a task may after an `await`.
    /// Each hand-off takes the worker's lock; a value destroyed inline under a
    /// time bound orders nothing. Each read makes a new handle, which keeps
    /// the worker alive.
    public var orderedAcrossThreads: DropWorker {
        _orderedHandleOf == nil ? DropWorker(orderedHandleOf: self) : self
    }

    /// The scheduling class of the worker's thread: see ``DropPriority``. Its
    /// capacity's ``DropCapacity/defaultPriority`` until set; settable at any
    /// time, and applied before the worker destroys its next value.
    public var priority: DropPriority {
        get { _queue.priority }
        set { _queue.priority = newValue }
    }

    /// The class the worker's thread is in, as the system reported it when the
    /// worker last applied ``priority``; `nil` before its thread has started.
    /// It differs from ``priority``'s where the system refused the change.
    public var schedulingClass: DropSchedulingClass? {
        let number = _queue.schedulingClass.load(ordering: .acquiring)
        return number < 0 ? nil : DropSchedulingClass(_layerClass: number)
    }

    /// Whether a normal exit (`exit()`, or returning from `main`) waits for
    /// this worker to destroy everything handed to it; `true` by default. Values
    /// handed over during the exit are destroyed inline. `false` gives the Rust
    /// crate's fast exit, losing what is queued. `_exit()` or a crash drains nothing.
    public var drainsAtExit: Bool {
        get { _queue.drainsAtExit }
        set { _queue.drainsAtExit = newValue }
    }

    /// Stops the program unless `name` can name a thread: not empty, no NUL.
    package static func _checkName(_ name: String, of type: String) {
        _precondition(
            !name.isEmpty,
            "\(type)(name: \"\"): the name is empty; it names the worker's thread, so give it one")
        _precondition(
            !name.utf8.contains(0),
            "\(type)(name: \(name.debugDescription)): the name contains a NUL character, which a thread name cannot hold")
    }

    /// Stops the worker without waiting; its thread destroys what is queued.
    deinit {
        if _orderedHandleOf == nil { _queue.shutdown(wait: false) }
    }

    /// Takes ownership of `value` and destroys it on this worker's thread,
    /// after every value the calling thread handed over before. Once the worker
    /// has been shut down, destroys it here, before returning.
    @inlinable
    public func dispose<Value: ~Copyable>(_ value: consuming sending Value) {
        var item: _DisposalItem? = _DisposalItem(boxing: value)
        _queue.enqueue(&item, acrossThreads: _orderedHandleOf != nil)
    }

    /// Like ``dispose(_:)-(Value)``, for a class instance, without boxing it.
    @inlinable
    public func dispose<Object: AnyObject>(_ object: consuming sending Object) {
        var item: _DisposalItem? = _DisposalItem(object: consume object)
        _queue.enqueue(&item, acrossThreads: _orderedHandleOf != nil)
    }

    /// For pools: `dispose` without touching the worker's reference count, which
    /// every producer of that shard would write. The caller keeps `worker` alive.
    @inlinable
    package static func _dispose<Value: ~Copyable>(_ value: consuming sending Value, to worker: Unmanaged<DropWorker>) {
        var item: _DisposalItem? = _DisposalItem(boxing: value)
        worker._withUnsafeGuaranteedRef { $0._queue.enqueue(&item, acrossThreads: false) }
    }

    /// For pools: the class instance's `_dispose(_:to:)`.
    @inlinable
    package static func _dispose<Object: AnyObject>(_ object: consuming sending Object, to worker: Unmanaged<DropWorker>) {
        var item: _DisposalItem? = _DisposalItem(object: consume object)
        worker._withUnsafeGuaranteedRef { $0._queue.enqueue(&item, acrossThreads: false) }
    }

    /// Destroys everything pending, stops the worker's thread, and returns when
    /// both are done.
    ///
    /// Values handed over once shutdown has begun are destroyed inline, after
    /// those queued before them: none is lost and each thread's order holds.
    /// Called again, it waits for the same stop; called from a destructor
    /// running for the worker, it begins the shutdown and returns at once.
    /// After ``shared`` shuts down, every ``deferDrop(_:)-(Value)`` destroys inline.
    @available(*, noasync, message: "blocks a thread of the cooperative pool; use `await shutdownGracefully()`")
    public func shutdown() {
        _queue.shutdown(wait: true)
    }

    /// Shuts down as ``shutdown()`` does, suspending the calling task instead of
    /// blocking its thread. Any number of tasks may await it.
    public func shutdownGracefully() async {
        await _queue.shutdownGracefully()
    }

    /// Begins `shutdown()` without waiting, so a pool starts every shard's drain first.
    package func _beginShutdown() {
        _queue.shutdown(wait: false)
    }

    /// One paragraph per live worker, pools' shards included, for diagnosing a
    /// worker that makes no progress.
    package static var _diagnosesOfEveryWorker: [String] {
        _ProcessLifecycle.shared.diagnoses
    }

    /// Which of `workers` the calling thread is the thread of, if any.
    package static func _indexOfCurrentThread(in workers: [DropWorker]) -> Int? {
        guard _ThreadRole.isWorkerThread else { return nil }
        return workers.firstIndex { _ThreadRole.isWorker(of: $0._queue) }
    }

    /// How many values, each handed over inside another's destructor, a worker
    /// destroys in place, depth first as the Rust crate does, before it queues
    /// the next one: 64. So a chain of any length neither overflows the
    /// worker's stack nor deadlocks. A hand-off that does not hold the last
    /// reference to its value is queued at any depth.
    public static let maximumNestingDepth = _DropQueue.maximumNestingDepth

    /// How deep the calling thread is in nested in-place destruction; 0 outside.
    package static var _currentNestingDepth: Int {
        _ThreadRole.isWorkerThread ? _WorkerThreadState.current.nestingDepth : 0
    }
}

// MARK: deferDrop

/// Hands `value` to the global worker, ``DropWorker/shared``, to be destroyed
/// on its thread rather than this one: `deferDrop(consume table)`.
@inlinable
public func deferDrop<Value: ~Copyable>(_ value: consuming sending Value) {
    DropWorker.shared.dispose(value)
}

/// Hands `value` to `disposer`, to be destroyed on its thread rather than this one.
@inlinable
public func deferDrop<Value: ~Copyable>(_ value: consuming sending Value, on disposer: some Disposer) {
    disposer.dispose(value)
}

/// Hands a class instance to the global worker, as ``deferDrop(_:)-(Value)``
/// does, without boxing it.
@inlinable
public func deferDrop<Object: AnyObject>(_ object: consuming sending Object) {
    DropWorker.shared.dispose(object)
}

/// Hands a class instance to `disposer` without boxing it, where the disposer
/// supports that (``DropWorker`` does).
@inlinable
public func deferDrop<Object: AnyObject>(_ object: consuming sending Object, on disposer: some Disposer) {
    disposer.dispose(object)
}
