#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization
import _DeferDropShims

/// The hand-off between any number of producers and one worker thread, and the
/// worker thread's loop.
///
/// Everything lives in one `State` under one lock: the lifecycle, the queue,
/// whether the worker sleeps, the counters and the threads waiting in `flush()`
/// or `shutdown()`. One lock keeps the transitions easy to reason about, and the
/// critical sections are a few stores: the lock is never held while a value is
/// destroyed, a thread is woken or a waiter resumed.
///
/// Why producers stay cheap:
/// - a hand-off is one append under the lock; the worker takes every queued
///   value in one step and destroys them with the lock released;
/// - a producer pays for a wake-up (one `sem_post` system call) only when the
///   worker has said, under the lock, that it is going to sleep. While the
///   worker is busy, hand-offs make no system call at all;
/// - the worker never polls: when the queue is empty it sleeps on a semaphore
///   until a producer, `shutdown()` or `deinit` posts it.
///
/// A value handed over by a destructor that this queue's own worker is running
/// is destroyed right there, depth first, as the Rust crate does, up to
/// `maximumNestingDepth` levels; deeper ones are queued, so that a chain of any
/// length cannot overflow the worker's stack.
///
/// With a bound (`DropCapacity.bounded`), a producer that finds the worker full
/// registers a semaphore of its own under the lock and sleeps on it; the
/// worker then publishes its progress after every value, not once per batch,
/// and wakes the waiting producers as soon as there is room. An unbounded
/// queue never takes that path.
@usableFromInline
final class _DropQueue: Sendable {
    /// The name the worker's thread carries, already cut to the OS limit.
    let threadName: String
    /// The public name, for messages.
    let name: String
    /// The most values pending at once, and what a full queue does; `nil`
    /// when unbounded.
    let bound: (count: UInt64, policy: OverflowPolicy)?
    /// With `DropCapacity.timeBounded`, how long in nanoseconds the worker may
    /// be busy with one batch (or asleep with values waiting) before
    /// hand-offs destroy inline; `nil` otherwise.
    let maximumWait: UInt64?
    /// Where the worker reports its metrics; `nil` without the `Metrics` trait.
    let metrics: _WorkerMetrics?

    private let state: _Lock<State>
    /// Values destroyed by their producer: the worker had stopped, was full,
    /// was behind, or (with a time bound) its lock was busy. Counted without
    /// the lock, so that a producer that gives up on the worker never waits
    /// for it. Each counts as handed over and destroyed at once.
    private let destroyedInline = Atomic<UInt64>(0)
    /// Whether the worker's thread is inside its critical section right now:
    /// with a time bound, a producer that finds the lock busy and this set
    /// does not wait (see `enqueue`). A hint, read and written relaxed.
    private let workerHoldsLock = Atomic<Bool>(false)
    /// Posted exactly once for each time the worker went to sleep and was needed.
    private let wakeUp = _Semaphore()

    /// How many values, one inside another's destructor, the worker destroys
    /// in place before it queues the next instead (`DropWorker.maximumNestingDepth`).
    static let maximumNestingDepth = 64

    init(
        name: String, threadName: String, bound: (count: UInt64, policy: OverflowPolicy)?, maximumWait: UInt64?,
        priority: DropPriority, metrics: _WorkerMetrics?
    ) {
        self.name = name
        self.threadName = threadName
        self.bound = bound
        self.maximumWait = maximumWait
        self.metrics = metrics
        state = _Lock(State(priority: priority))
        _ProcessLifecycle.shared.register(self)
    }

    deinit {
        _ProcessLifecycle.shared.unregister(ObjectIdentifier(self))
    }

    // MARK: State

    enum Lifecycle: Sendable {
        /// No thread yet: the first value handed over starts one.
        case idle
        /// The worker thread exists and takes values.
        case running
        /// `shutdown()` was called: the worker destroys everything queued, then
        /// stops. It goes on taking values handed over by its own destructors.
        case stopping
        /// The worker has stopped: every value is destroyed by whoever hands it over.
        case stopped
    }

    /// How far the worker must get before a waiter may go on.
    enum WaitPoint: Sendable {
        /// Until the first `count` values ever queued have been destroyed.
        case destroyed(count: UInt64)
        /// Until the worker has drained its queue and stopped.
        case stopped
    }

    struct State: Sendable {
        var lifecycle = Lifecycle.idle
        /// The scheduling class the worker's thread should run in; it checks
        /// before each batch.
        var priority: DropPriority
        /// Whether the handler at process exit drains this queue.
        var drainsAtExit = true
        /// Producers waiting for room in a bounded queue, each on its own semaphore.
        var roomWaiters: [_Semaphore] = []
        var items = _ChunkedQueue()
        /// Set by the worker, under the lock, just before it sleeps; cleared by
        /// whoever takes on the duty to post `wakeUp`.
        var workerIsAsleep = false
        /// Values ever appended to `items`.
        var enqueued: UInt64 = 0
        /// Of those, the ones destroyed. Published by the worker once per batch.
        var completed: UInt64 = 0
        /// Values the worker destroyed in place, handed over by destructors it
        /// was running; never in `items`, so not in `enqueued` or `completed`.
        /// Published by the worker once per batch.
        var destroyedInPlace: UInt64 = 0
        /// Values the worker released while a reference to them was still held
        /// elsewhere. Published by the worker once per batch.
        var releasedElsewhere: UInt64 = 0
        var peakPending: UInt64 = 0
        /// With a time bound: since when (coarse clock, ns) the worker has
        /// owed progress: the moment a producer woke it, or it took its
        /// current batch; 0 while it is asleep with nothing to do.
        var workingSince: UInt64 = 0
        /// With a time bound: the worker fell behind (a batch outlasted the
        /// bound, or a producer found it behind) and has not caught up since.
        /// Every hand-off is then destroyed inline, and the worker stands
        /// aside, so that what is queued stays where a producer can take it
        /// (see `takeQueueToDrain` and `takeNextBatchWithTimeBound`).
        var isCatchingUp = false
        /// With a time bound: whether the worker holds values it took from
        /// the queue and has not yet published as destroyed or handed back.
        var workerHoldsBatch = false
        /// With a time bound: the producer's thread that is destroying values
        /// it took from the head of the queue, if one is.
        var drainingProducer: pthread_t?
        /// Values queued, then destroyed by a producer that found the worker
        /// behind: in `enqueued` and `completed`, and reported as destroyed inline.
        var drainedByProducers: UInt64 = 0
        /// Bytes the worker's thread has freed, published with `completed`;
        /// `nil` where the allocator cannot tell.
        var reclaimedBytes: UInt64? = _ThreadFreedBytes.isAvailable ? 0 : nil
        var waiters: [(point: WaitPoint, waiter: _Waiter)] = []

        /// Removes and returns the waiters whose point has been reached.
        mutating func takeReadyWaiters() -> [_Waiter] {
            guard !waiters.isEmpty else { return [] }
            var ready: [_Waiter] = []
            let completed = self.completed
            let isStopped = if case .stopped = lifecycle { true } else { false }
            waiters.removeAll { entry in
                let reached = switch entry.point {
                case .destroyed(let count): completed >= count
                case .stopped: isStopped
                }
                if reached { ready.append(entry.waiter) }
                return reached
            }
            return ready
        }

        /// Called when the worker's own thread queues a value, which only a
        /// destructor in its current batch can do. Every waiting barrier covers
        /// part of that batch (a barrier already passed is no longer stored),
        /// so each now covers the new value too: `flush()` also waits for the
        /// values that the destructors of the values it covers hand over.
        /// (Tracked per batch, not per value: a barrier may wait for a little
        /// more than it must, never for less.)
        mutating func extendBarriersOverNestedValue() {
            for index in waiters.indices {
                if case .destroyed(let count) = waiters[index].point {
                    waiters[index].point = .destroyed(count: max(count, enqueued))
                }
            }
        }

        /// Values handed over and not yet destroyed, the one in hand included.
        var pending: UInt64 { enqueued - completed }

        /// What the worker reports to its metrics, when it has them.
        var metricsSnapshot: _WorkerMetrics.Snapshot {
            _WorkerMetrics.Snapshot(
                reachedWorker: enqueued + destroyedInPlace, destroyed: completed + destroyedInPlace,
                releasedElsewhere: releasedElsewhere, reclaimedBytes: reclaimedBytes)
        }

        /// Removes and returns the producers waiting for room, if there is room now.
        mutating func takeRoomWaiters(bound: UInt64) -> [_Semaphore] {
            guard !roomWaiters.isEmpty, pending < bound else { return [] }
            defer { roomWaiters = [] }
            return roomWaiters
        }

        /// With a time bound of `maximumWait` ns: whether the worker has owed
        /// progress for longer, so that a hand-off should destroy inline.
        ///
        /// Values are pending, and the worker has been busy with its current
        /// batch (or has not started since it was woken) for longer than
        /// `maximumWait`. The clock is read only when values are pending, and
        /// with many pending only on every 16th hand-off: a burst of small
        /// values pays a few nanoseconds, and a bound of milliseconds does not
        /// need every one of them checked.
        func isBehind(maximumWait: UInt64) -> Bool {
            let pending = pending
            guard pending > 0, workingSince != 0, pending < 16 || enqueued & 15 == 0 else { return false }
            return _deferdrop_coarse_monotonic_ns() &- workingSince > maximumWait
        }

        /// With a time bound, for a producer that found the worker behind:
        /// takes every queued value for the caller to destroy, oldest first,
        /// if no one else is destroying values from the queue right now (the
        /// worker holds no batch and no other producer drains); false if
        /// someone is, or nothing is queued.
        ///
        /// Why: values the worker has not reached stay allocated for as long
        /// as it stays behind, which at saturation, in `.idle`, can be
        /// seconds; memory that is freed late is memory the allocator cannot
        /// reuse, and glibc then grows and trims its arenas over and over.
        /// One drainer at a time, always from the head, keeps every
        /// producer's values destroyed in order and `completed` a count of
        /// the oldest values, as barriers need.
        mutating func takeQueueToDrain(into batch: inout [_ChunkedQueue.Chunk]) -> Bool {
            isCatchingUp = true
            guard !workerHoldsBatch, drainingProducer == nil, !items.isEmpty else { return false }
            items.exchange(&batch)
            drainingProducer = pthread_self()
            return true
        }

        /// Whether the calling thread is a producer draining this queue, which
        /// only a destructor of a value it drains can ask.
        var isDrainingOnCallingThread: Bool {
            guard let drainingProducer else { return false }
            return pthread_equal(drainingProducer, pthread_self()) != 0
        }

        /// Called by whoever drained values from the head, worker or producer,
        /// once they are published: the worker has caught up once nothing is
        /// queued and no one holds values taken from the queue.
        mutating func endCatchingUpIfCaughtUp() {
            if items.isEmpty, !workerHoldsBatch, drainingProducer == nil { isCatchingUp = false }
        }

        /// Wakes the worker if it sleeps; returns whether the caller must post.
        mutating func claimWakeUp() -> Bool {
            guard workerIsAsleep else { return false }
            workerIsAsleep = false
            return true
        }
    }

    // MARK: Producers

    private enum Handoff {
        case queued
        case queuedWakeWorker
        case destroyInline
        case destroyInlineAfterDrain(_Semaphore)
        case waitForRoom(_Semaphore)
        /// The worker is behind: destroy the queued values taken into
        /// `drained` (oldest first, until the deadline), then `item`.
        ///
        /// The values travel in a variable of the caller's, not in this case:
        /// a copy of the batch left in the enum would keep a second reference
        /// to every value, and each would then be destroyed only when the
        /// enum is, after the drain was published.
        case drainThenDestroyInline(deadline: UInt64)
    }

    /// Moves `item` into the queue, or destroys it in the calling thread if the
    /// worker has stopped or is full under `.destroyInline`. `item` is `nil`
    /// on return either way.
    ///
    /// After `shutdown()` has begun, a value from any thread but the worker's
    /// waits until the worker has drained what was queued before it, and is then
    /// destroyed inline: so a producer's values are destroyed in order even
    /// across a shutdown.
    ///
    /// From a destructor this queue's own worker is running, the value is
    /// destroyed here and now instead, unless that would nest deeper than
    /// `maximumNestingDepth` or the value is still referenced elsewhere.
    @usableFromInline
    func enqueue(_ item: inout _DisposalItem?) {
        if isOnWorkerThread, Self.destroyInPlace(&item) {
            return
        }
        while true {
            // With a time bound, a producer does not wait for the lock while
            // the worker holds it: a worker at `.idle` preempted inside its
            // short section may not run again for milliseconds on a busy
            // machine, and every hand-off would wait for it (measured: a
            // saturated server lost a third of its requests that way with 99%
            // of its values freed inline). Such a hand-off destroys its value
            // inline, as one finding the worker behind does. Other producers
            // holding the lock are waited for, as always.
            var handoff: Handoff?
            var drained: [_ChunkedQueue.Chunk] = []
            if maximumWait == nil || isOnWorkerThread {
                handoff = state.withLock { handOff(&item, drained: &drained, state: &$0) }
            } else {
                handoff = state.withLockIfAvailable(attempts: 256) { handOff(&item, drained: &drained, state: &$0) }
                if handoff == nil, !workerHoldsLock.load(ordering: .relaxed) {
                    handoff = state.withLock { handOff(&item, drained: &drained, state: &$0) }
                }
            }
            guard let handoff else {
                destroyInline(item.take()!)
                return
            }
            switch handoff {
            case .queued:
                return
            case .queuedWakeWorker:
                wakeUp.signal()
                return
            case .destroyInline:
                destroyInline(item.take()!)
                return
            case .destroyInlineAfterDrain(let drained):
                drained.wait()
                destroyInline(item.take()!)
                return
            case .waitForRoom(let room):
                // Woken when the worker has made room, or is stopping: try again.
                room.wait()
            case .drainThenDestroyInline(let deadline):
                drain(&drained, until: deadline)
                destroyInline(item.take()!)
                return
            }
        }
    }

    /// The producer's critical section: decides, under the lock, what becomes
    /// of `item`, and queues it if it is to be queued.
    @inline(__always)
    private func handOff(
        _ item: inout _DisposalItem?, drained: inout [_ChunkedQueue.Chunk], state: inout State
    ) -> Handoff {
        // A destructor of a value this thread is draining: part of that
        // drain, whatever the lifecycle. (Waiting for a shutdown's drain here
        // would wait for ever: the worker stands aside while a producer drains.)
        if maximumWait != nil, state.isDrainingOnCallingThread { return .destroyInline }
        switch state.lifecycle {
        case .idle:
            startWorkerThread()
            state.lifecycle = .running
            if maximumWait != nil { state.workingSince = _deferdrop_coarse_monotonic_ns() }
        case .running:
            break
        case .stopping:
            if !isOnWorkerThread {
                let drained = _Semaphore()
                state.waiters.append((.stopped, .thread(drained)))
                return .destroyInlineAfterDrain(drained)
            }
        case .stopped:
            return .destroyInline
        }
        if let bound, state.pending >= bound.count, !isOnWorkerThread {
            if bound.policy == .destroyInline || _WorkerThreadState.isWorkerThread {
                return .destroyInline
            }
            let room = _Semaphore()
            state.roomWaiters.append(room)
            return .waitForRoom(room)
        }
        if let maximumWait, !isOnWorkerThread {
            if state.isCatchingUp || state.isBehind(maximumWait: maximumWait) {
                guard state.takeQueueToDrain(into: &drained) else { return .destroyInline }
                return .drainThenDestroyInline(deadline: _deferdrop_coarse_monotonic_ns() &+ maximumWait)
            }
        }
        state.items.append(item.take()!)
        state.enqueued += 1
        state.peakPending = max(state.peakPending, state.pending)
        if !state.waiters.isEmpty, isOnWorkerThread {
            state.extendBarriersOverNestedValue()
        }
        guard state.claimWakeUp() else { return .queued }
        if maximumWait != nil { state.workingSince = _deferdrop_coarse_monotonic_ns() }
        return .queuedWakeWorker
    }

    /// A producer's drain: destroys the values it took from the head of the
    /// queue, oldest first, until `deadline` (at least one), gives back what
    /// is left, and publishes them as the worker publishes a batch.
    private func drain(_ batch: inout [_ChunkedQueue.Chunk], until deadline: UInt64) {
        let count = Self.destroy(&batch, on: nil, until: deadline) {}
        let (ready, mustWake) = state.withLock { state in
            state.completed += count
            state.drainedByProducers += count
            state.items.prepend(&batch)
            state.drainingProducer = nil
            state.endCatchingUpIfCaughtUp()
            // The worker stands aside while a producer drains, for up to the
            // bound; a shutdown to finish is worth waking it for.
            let isStopping = if case .running = state.lifecycle { false } else { true }
            return (state.takeReadyWaiters(), isStopping && state.claimWakeUp())
        }
        metrics?.countDrainedByProducer(count)
        for waiter in ready { waiter.resume() }
        if mustWake { wakeUp.signal() }
    }

    private func destroyInline(_ item: consuming _DisposalItem) {
        _ = consume item
        destroyedInline.add(1, ordering: .relaxed)
        metrics?.countDestroyedInline()
    }

    /// Whether the calling thread is the worker's.
    var isOnWorkerThread: Bool {
        _WorkerThreadState.isWorker(of: self)
    }

    /// On the worker's own thread: destroys `item` in place unless that would
    /// nest too deep or the value is still referenced elsewhere. Off the hot
    /// path, so that a producer's hand-off stays a load and a comparison.
    @inline(never)
    private static func destroyInPlace(_ item: inout _DisposalItem?) -> Bool {
        let thread = _WorkerThreadState.current
        return thread.nestingDepth < maximumNestingDepth && thread.destroyInPlaceIfLastReference(&item)
    }

    // MARK: Barriers

    /// Returns once every value queued before the call has been destroyed,
    /// and every value their destructors handed to this worker in turn.
    func flush() {
        addFlushBarrier()?.wait()
    }

    /// `flush()` that gives up after `timeout`; returns whether the barrier was reached.
    func flush(timeout: Duration) -> Bool {
        guard let semaphore = addFlushBarrier() else { return true }
        if semaphore.wait(timeout: timeout) { return true }
        let withdrawn = state.withLock { state in
            guard let index = state.waiters.firstIndex(where: { $0.waiter.isThread(waitingOn: semaphore) })
            else { return false }
            state.waiters.remove(at: index)
            return true
        }
        if withdrawn { return false }
        // The worker took the barrier just now and is about to signal it.
        semaphore.wait()
        return true
    }

    /// Registers a barrier at the current end of the queue; `nil` if nothing is pending.
    private func addFlushBarrier() -> _Semaphore? {
        _precondition(
            !isOnWorkerThread,
            """
            flush() was called on the thread of DropWorker "\(name)", from a destructor \
            that worker is running: it would wait for itself forever. Flush from another thread.
            """)
        return state.withLock { state in
            _precondition(
                !state.isDrainingOnCallingThread,
                """
                flush() was called from a destructor that this thread runs while it destroys \
                values of DropWorker "\(name)" for a worker that is behind: it would wait for \
                itself forever. Flush from another thread.
                """)
            guard state.completed < state.enqueued else { return nil }
            let semaphore = _Semaphore()
            state.waiters.append((.destroyed(count: state.enqueued), .thread(semaphore)))
            return semaphore
        }
    }

    /// Returns once every value queued before the call has been destroyed,
    /// suspending the task rather than blocking its thread.
    func flush() async {
        await suspendUntil { state in
            state.completed < state.enqueued ? .destroyed(count: state.enqueued) : nil
        }
    }

    /// Suspends the calling task until the worker reaches the point that
    /// `point` names under the lock, or not at all where it returns `nil`
    /// (the point is already behind).
    private func suspendUntil(_ point: @escaping (inout State) -> WaitPoint?) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let mustWait = state.withLock { state in
                guard let point = point(&state) else { return false }
                state.waiters.append((point, .task(continuation)))
                return true
            }
            if !mustWait { continuation.resume() }
        }
    }

    // MARK: Shutdown

    /// Stops taking values, lets the worker destroy everything queued and stop,
    /// and waits for that unless `wait` is false or the caller is the worker.
    func shutdown(wait: Bool) {
        let isOnWorkerThread = isOnWorkerThread
        let (mustWake, drained, blockedProducers): (Bool, _Semaphore?, [_Semaphore]) = state.withLock { state in
            var mustWake = false
            switch state.lifecycle {
            case .idle where state.items.isEmpty:
                state.lifecycle = .stopped
                return (false, nil, [])
            case .idle:
                // Values and no thread: only after fork(), in the child. Start
                // one to drain them.
                startWorkerThread()
                state.lifecycle = .stopping
            case .stopped:
                return (false, nil, [])
            case .running:
                state.lifecycle = .stopping
                mustWake = state.claimWakeUp()
            case .stopping:
                break
            }
            // Producers waiting for room go on: they now wait for the drain instead.
            let blockedProducers = state.roomWaiters
            state.roomWaiters = []
            // From a destructor that this thread runs for the worker, on its
            // thread or in a producer's drain, waiting would wait for itself.
            guard wait, !isOnWorkerThread, !state.isDrainingOnCallingThread else {
                return (mustWake, nil, blockedProducers)
            }
            let drained = _Semaphore()
            state.waiters.append((.stopped, .thread(drained)))
            return (mustWake, drained, blockedProducers)
        }
        for producer in blockedProducers { producer.signal() }
        if mustWake { wakeUp.signal() }
        drained?.wait()
    }

    /// Begins the shutdown and suspends until the worker has drained its
    /// queue and stopped.
    func shutdownGracefully() async {
        shutdown(wait: false)
        await suspendUntil { state in
            if case .stopped = state.lifecycle { nil } else { .stopped }
        }
    }

    // MARK: Settings

    var priority: DropPriority {
        get { state.withLock { $0.priority } }
        set {
            let mustWake = state.withLock { state in
                state.priority = newValue
                return state.claimWakeUp()
            }
            // A sleeping worker wakes to apply it now, and sleeps again.
            if mustWake { wakeUp.signal() }
        }
    }

    var drainsAtExit: Bool {
        get { state.withLock { $0.drainsAtExit } }
        set { state.withLock { $0.drainsAtExit = newValue } }
    }

    // MARK: Statistics

    var statistics: DropStatistics {
        state.withLock { state in
            let destroyedInline = destroyedInline.load(ordering: .relaxed)
            return DropStatistics(
                deferred: state.enqueued + destroyedInline + state.destroyedInPlace,
                destroyed: state.completed + destroyedInline + state.destroyedInPlace,
                peakPending: state.peakPending,
                reclaimedBytes: state.reclaimedBytes,
                destroyedInline: destroyedInline + state.drainedByProducers,
                releasedElsewhere: state.releasedElsewhere)
        }
    }

    // MARK: The worker

    private enum WorkerStep {
        case destroy
        case sleep
        /// With a time bound, while the worker is behind: leave the queue to
        /// the producers for up to the bound (see `takeNextBatchWithTimeBound`).
        case standAside
        case stop
    }

    /// Starts the worker thread. Called once, under the lock, by the first producer.
    private func startWorkerThread() {
        _WorkerThread.start(named: threadName) { [self] in
            _WorkerThreadState.run(asWorkerOf: self, named: name, runWorker)
        }
    }

    /// The worker thread's whole life: publish what was destroyed, take the next
    /// batch, destroy it with the lock released, and sleep when there is none.
    private func runWorker(_ thread: _WorkerThreadState) {
        var batch: [_ChunkedQueue.Chunk] = []
        var destroyedInBatch: UInt64 = 0
        /// With a time bound: `drainedByProducers` when the worker last stood
        /// aside, or `nil` if it did not.
        var drainedWhenStoodAside: UInt64?
        // The priority applies from the first batch on: a worker at `.idle`
        // that took its first batch at the default priority would then be
        // preempted in the middle of it, on a busy machine, for seconds.
        var appliedPriority: DropPriority? = state.withLock { $0.priority }
        _ = _deferdrop_set_current_thread_scheduling(appliedPriority!._schedulingClass)
        let freed = _ThreadFreedBytes()
        var publisher = metrics.map(_WorkerMetrics.Publisher.init)
        while true {
            let reclaimed = freed.bytes
            let (inPlace, releasedElsewhere) = thread.takeCounts()
            let now = maximumWait == nil ? 0 : _deferdrop_coarse_monotonic_ns()
            let (step, ready, priority, snapshot):
                (WorkerStep, [_Waiter], DropPriority, _WorkerMetrics.Snapshot?) = state.withLock { state in
                    workerHoldsLock.store(true, ordering: .relaxed)
                    defer { workerHoldsLock.store(false, ordering: .relaxed) }
                    state.completed += destroyedInBatch
                    state.destroyedInPlace += inPlace
                    state.releasedElsewhere += releasedElsewhere
                    if let reclaimed { state.reclaimedBytes = reclaimed }
                    let standsAside: Bool
                    if maximumWait != nil {
                        standsAside = takeNextBatchWithTimeBound(
                            &batch, drainedWhenStoodAside: &drainedWhenStoodAside, now: now, state: &state)
                    } else {
                        standsAside = false
                        state.items.exchange(&batch)
                    }
                    let step: WorkerStep
                    if standsAside {
                        state.workerIsAsleep = true
                        step = .standAside
                    } else if !batch.isEmpty {
                        step = .destroy
                    } else if case .stopping = state.lifecycle {
                        state.lifecycle = .stopped
                        step = .stop
                    } else {
                        state.workerIsAsleep = true
                        step = .sleep
                    }
                    return (step, state.takeReadyWaiters(), state.priority, publisher == nil ? nil : state.metricsSnapshot)
                }
            if let snapshot { publisher?.publish(snapshot) }
            if !ready.isEmpty {
                // Whoever waited may read the allocator's statistics next: give
                // this thread's cached free blocks back first, so they show.
                _ThreadFreedBytes.flushCurrentThreadCache()
                for waiter in ready { waiter.resume() }
            }
            if priority != appliedPriority {
                // Best effort: raising a thread out of SCHED_IDLE needs a
                // privilege, and without it the thread stays where it was.
                _ = _deferdrop_set_current_thread_scheduling(priority._schedulingClass)
                appliedPriority = priority
            }
            switch step {
            case .destroy:
                let start = publisher == nil ? nil : ContinuousClock.now
                if let bound {
                    Self.destroy(&batch, on: thread) { publishOneDestroyed(bound: bound.count) }
                    destroyedInBatch = 0
                } else if let maximumWait {
                    destroyedInBatch = Self.destroy(&batch, on: thread, until: now &+ maximumWait) {}
                } else {
                    destroyedInBatch = Self.destroy(&batch, on: thread) {}
                }
                if let start {
                    let elapsed = (ContinuousClock.now - start).components
                    publisher?.recordBatch(
                        nanoseconds: elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
                }
            case .sleep:
                destroyedInBatch = 0
                wakeUp.wait()
            case .standAside:
                destroyedInBatch = 0
                _ = wakeUp.wait(nanoseconds: maximumWait!)
            case .stop:
                return
            }
        }
    }

    /// With a time bound, the worker's step under the lock between two
    /// batches: gives back what is left in `batch` (the last one outlasted
    /// the bound), and takes every queued value, unless it should stand
    /// aside: returns whether it should.
    ///
    /// Why stand aside: a worker that is behind, at `.idle` on a saturated
    /// machine, is preempted for long stretches, and whatever it has taken
    /// off the queue stays allocated until it runs again. So while it is
    /// catching up, it leaves the queue to the producers, which destroy it
    /// in order on their next hand-offs (`takeQueueToDrain`), and sleeps
    /// for up to the bound. It takes the queue back only if no producer
    /// made progress with it in that time: then no one else will, and it
    /// is the worker's again. A worker that stands aside holds nothing, so
    /// a producer can always take the queue.
    private func takeNextBatchWithTimeBound(
        _ batch: inout [_ChunkedQueue.Chunk], drainedWhenStoodAside: inout UInt64?, now: UInt64,
        state: inout State
    ) -> Bool {
        // Stood aside until the time ran out, or was woken: awake either way.
        state.workerIsAsleep = false
        if state.items.prepend(&batch) { state.isCatchingUp = true }
        state.workerHoldsBatch = false
        let isRunning = if case .running = state.lifecycle { true } else { false }
        state.endCatchingUpIfCaughtUp()
        let producersMadeProgress = drainedWhenStoodAside != state.drainedByProducers
        if state.drainingProducer != nil || (state.isCatchingUp && isRunning && producersMadeProgress) {
            drainedWhenStoodAside = state.drainedByProducers
            return true
        }
        drainedWhenStoodAside = nil
        state.items.exchange(&batch)
        state.workerHoldsBatch = !batch.isEmpty
        // While catching up, the worker still owes what it owed: producers
        // go on finding it behind until it has caught up.
        if batch.isEmpty {
            state.workingSince = 0
        } else if !state.isCatchingUp {
            state.workingSince = now
        }
        return false
    }

    /// Destroys the items of `batch` in the order they were queued, leaving
    /// the chunks empty with their capacity, and calls `afterEach` after each
    /// value. Returns how many were destroyed.
    ///
    /// With a `deadline` (coarse monotonic ns), stops once it has passed,
    /// after at least one value, and leaves the rest in `batch`, in order.
    /// On a producer's thread, `thread` is `nil`.
    @discardableResult
    fileprivate static func destroy(
        _ batch: inout [_ChunkedQueue.Chunk], on thread: _WorkerThreadState?, until deadline: UInt64? = nil,
        afterEach: () -> Void
    ) -> UInt64 {
        var count: UInt64 = 0
        for index in batch.indices {
            // The chunk is moved out, so that each release touches a local
            // array only, and moved back empty, with its capacity.
            var chunk = _ChunkedQueue.Chunk()
            swap(&chunk, &batch[index])
            // Reversing moves references without retaining them; the items
            // are then released from the end, oldest first.
            chunk.reverse()
            while !chunk.isEmpty {
                if let deadline, count > 0, _deferdrop_coarse_monotonic_ns() > deadline {
                    chunk.reverse()
                    swap(&chunk, &batch[index])
                    return count
                }
                if let thread {
                    thread.releaseLast(of: &chunk)
                } else {
                    chunk.removeLast()
                }
                count += 1
                afterEach()
            }
            swap(&chunk, &batch[index])
        }
        return count
    }

    /// For a bounded queue: counts one more value destroyed as soon as it is,
    /// and lets producers waiting for room go on, so that they go on after one
    /// value rather than a whole batch.
    private func publishOneDestroyed(bound: UInt64) {
        let room = state.withLock { state in
            state.completed += 1
            return state.takeRoomWaiters(bound: bound)
        }
        for producer in room { producer.signal() }
    }
}

// MARK: - Exit and fork

extension _DropQueue {
    /// Runs the queue's and the worker's generic code paths once, on a
    /// throwaway queue, so that the runtime metadata they need is complete
    /// (waiting for it if another thread is building it right now). Called
    /// before every `fork()`: metadata that a parent's thread is half way
    /// through building when the process forks stays half built in the
    /// child, and the child's first use of it waits for ever.
    static func _warmUpCodePaths() {
        let object = _WarmUp()
        var state = State(priority: .batch)
        // More than a chunk, so that both of `append`'s paths and the spare
        // chunks' path of `exchange` run.
        for _ in 0..._ChunkedQueue.chunkCapacity {
            state.items.append(_DisposalItem(object: object))
            state.enqueued += 1
        }
        // And boxes, so that the release check's look inside one runs too,
        // for a boxed object and a boxed collection.
        state.items.append(_DisposalItem(boxing: _WarmUp()))
        state.items.append(_DisposalItem(boxing: [_WarmUp()]))
        state.enqueued += 2
        state.waiters.append((.destroyed(count: 1), .thread(_Semaphore())))
        state.extendBarriersOverNestedValue()
        state.roomWaiters.append(_Semaphore())
        _ = state.items.count
        var batch: [_ChunkedQueue.Chunk] = []
        // With a time bound: a batch given back unfinished (a deadline
        // already passed), a producer's drain.
        state.items.exchange(&batch)
        state.completed = destroy(&batch, on: _WorkerThreadState.detached(), until: 0) {}
        state.items.prepend(&batch)
        state.items.exchange(&batch)
        state.completed += destroy(&batch, on: nil, until: 0) {}
        state.items.prepend(&batch)
        _ = state.isDrainingOnCallingThread
        if state.takeQueueToDrain(into: &batch) {
            state.items.prepend(&batch)
        }
        state.drainingProducer = nil
        state.workerHoldsBatch = false
        state.endCatchingUpIfCaughtUp()
        state.items.exchange(&batch)
        state.completed += destroy(&batch, on: _WorkerThreadState.detached()) {}
        state.items.exchange(&batch)
        _ = state.takeReadyWaiters()
        _ = state.takeRoomWaiters(bound: 1)
        // And what `_childAfterFork()` itself uses, which runs first in the child.
        _ = _Abandoned(state.waiters)
        // And, with the `Metrics` trait, what a worker reports through.
        _WorkerMetrics._warmUpCodePaths()
    }
}

private final class _WarmUp {}

extension _DropQueue: _ProcessLifecycleParticipant {
    func _beginExitDrain() {
        if drainsAtExit { shutdown(wait: false) }
    }

    func _finishExitDrain() {
        if drainsAtExit { shutdown(wait: true) }
    }

    func _prepareForFork() {
        state._lockForFork()
        metrics?._prepareForFork()
    }

    func _parentAfterFork() {
        metrics?._parentAfterFork()
        state._unlockAfterForkInParent()
    }

    /// The child has no worker thread and none of the threads that waited:
    /// back to "no thread yet", keeping the queued values, which the thread
    /// started by the next hand-off (or the drain at exit) destroys.
    ///
    /// The batch the parent's worker had taken off the queue is in that
    /// thread's memory, which the child cannot reach: those values are the
    /// parent's to finish, and the child counts them as done, so that its
    /// barriers and its bound do not wait for them for ever.
    func _childAfterFork() {
        state._reinitializeAfterForkInChild { state in
            switch state.lifecycle {
            case .running, .stopping: state.lifecycle = .idle
            case .idle, .stopped: break
            }
            state.completed = state.enqueued - UInt64(state.items.count)
            state.workerIsAsleep = false
            state.workingSince = 0
            state.isCatchingUp = false
            state.workerHoldsBatch = false
            state.drainingProducer = nil
            // The waiters' threads and tasks exist only in the parent. Resuming
            // a task's continuation here would schedule it on an executor the
            // child does not have, and dropping it unresumed would report a
            // leak: keep them, never resumed.
            if !state.waiters.isEmpty {
                _ = Unmanaged.passRetained(_Abandoned(state.waiters))
                state.waiters = []
            }
            state.roomWaiters = []
        }
        metrics?._childAfterFork()
    }
}

/// Waiters of the parent process, kept alive and never resumed in a fork child.
private final class _Abandoned: Sendable {
    let waiters: [(point: _DropQueue.WaitPoint, waiter: _Waiter)]
    init(_ waiters: [(point: _DropQueue.WaitPoint, waiter: _Waiter)]) { self.waiters = waiters }
}
