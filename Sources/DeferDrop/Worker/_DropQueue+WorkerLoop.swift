#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization
import _DeferDropShims

// The worker thread's loop: publish what was destroyed, take the next batch,
// destroy it with the lock released, sleep (or stand aside) when there is none.

extension _DropQueue {
    private enum WorkerStep {
        case destroy
        case sleep
        /// With a time bound, while the worker is behind: leave the queue to
        /// the producers for up to the bound (see `takeNextBatchWithTimeBound`).
        case standAside
        /// With lanes: `sleeping` is announced; collect once more before
        /// sleeping (the model's last look).
        case announceSleep
        /// With lanes, while stopping: the same last look before stopping.
        case lookLast
        case stop
    }

    /// What the worker decided under the lock, for the rest of its pass.
    ///
    /// A struct rather than a tuple: in an unoptimised build, a tuple passed
    /// through the lock's generic `withLock` has its metadata made at run
    /// time, on first use, under a lock of the Swift runtime. A worker that
    /// is making it at the moment the process forks leaves that lock held in
    /// the child for ever, and the child's worker then hangs on its first
    /// pass (seen in the fork tests). A struct's metadata is static.
    private struct WorkerDecision {
        var step: WorkerStep
        var ready: [_Waiter]
        var priority: DropPriority
        var snapshot: _WorkerMetrics.Snapshot?
        /// The policy the batch was taken under, which it is destroyed under.
        var policy: _DropPolicy
    }

    /// Starts the worker thread. Called once, under the lock, by the first producer.
    /// Starts the worker's thread and marks the queue running: at the first
    /// hand-off, or at a barrier on an idle queue that has values (only in a
    /// fork child, which inherits values without the thread).
    func startRunning(_ state: inout State) {
        startWorkerThread()
        state.lifecycle = .running
        setStatus(Status.notRunning, false)
        if policy.maximumWait != nil { workingSince.store(_deferdrop_coarse_monotonic_ns(), ordering: .relaxed) }
    }

    func startWorkerThread() {
        _WorkerThread.start(named: threadName) { [self] in
            _WorkerThreadState.run(asWorkerOf: self, named: name, runWorker)
        }
    }

    /// The worker thread's whole life: publish what was destroyed, take the next
    /// batch, destroy it with the lock released, and sleep when there is none.
    private func runWorker(_ thread: _WorkerThreadState) {
        var batch: [_ChunkedQueue.Chunk] = []
        var destroyedInBatch: UInt64 = 0
        /// With a time bound: the producers' activity at the worker's last
        /// boundary (see `takeNextBatchWithTimeBound`).
        var producerActivity: UInt64 = 0
        // The priority applies from the first batch on: a worker at `.idle`
        // that took its first batch at the default priority would then be
        // preempted in the middle of it, on a busy machine, for seconds.
        var appliedPriority: DropPriority? = state.withLock { state in
            state.workerThreadID = _deferdrop_current_thread_id()
            return state.priority
        }
        _ = _deferdrop_set_current_thread_scheduling(appliedPriority!._schedulingClass)
        let freed = _ThreadFreedBytes()
        var publisher = metrics.map(_WorkerMetrics.Publisher.init)
        /// With lanes: `sleeping` is announced, and the next pass is the last look.
        var announcedSleep = false
        /// With lanes, while stopping: the last look was taken, and nothing
        /// was collected since.
        var lookedLast = false
        while true {
            let reclaimed = freed.bytes
            let (inPlace, releasedElsewhere) = thread.takeCounts()
            let now = _deferdrop_coarse_monotonic_ns()
            let decision = state.withLock { state -> WorkerDecision in
                    // A hint for time-bounded producers only: under any other
                    // policy, no store to the line the producers read.
                    let hintsProducers = policy.maximumWait != nil
                    if hintsProducers { workerHoldsLock.store(true, ordering: .relaxed) }
                    defer { if hintsProducers { workerHoldsLock.store(false, ordering: .relaxed) } }
                    state.completed += destroyedInBatch
                    state.destroyedInPlace += inPlace
                    state.releasedElsewhere += releasedElsewhere
                    if let reclaimed { state.reclaimedBytes = reclaimed }
                    Self.collectLanes(&state)
                    let policy = policy
                    // What a time-bounded batch left goes back to the head of
                    // the queue, whatever the policy is now.
                    if state.items.prepend(&batch), policy.maximumWait != nil { state.isCatchingUp = true }
                    state.workerHoldsBatch = false
                    let standsAside: Bool
                    if state.producerDrains {
                        // The head of the queue is a producer's until it gives it back.
                        standsAside = true
                    } else if policy.maximumWait != nil {
                        standsAside = takeNextBatchWithTimeBound(
                            &batch, producerActivity: &producerActivity, now: now, state: &state)
                    } else {
                        standsAside = false
                        state.items.exchange(&batch)
                        state.workerHoldsBatch = !batch.isEmpty
                    }
                    // Lanes outlive a change of capacity: once a producer has
                    // one, the worker looks at them last before it sleeps or stops.
                    let hasLanes = !state.lanes.isEmpty
                    let step: WorkerStep
                    if standsAside {
                        setStatus(Status.sleeping, true)
                        step = .standAside
                    } else if !batch.isEmpty {
                        step = .destroy
                    } else if case .stopping = state.lifecycle {
                        if hasLanes, !lookedLast {
                            step = .lookLast
                        } else {
                            state.lifecycle = .stopped
                            step = .stop
                        }
                    } else if hasLanes, !announcedSleep {
                        setStatus(Status.sleeping, true)
                        step = .announceSleep
                    } else {
                        setStatus(Status.sleeping, true)
                        step = .sleep
                    }
                    publishCatchingUp(state)
                    return WorkerDecision(
                        step: step, ready: state.takeReadyWaiters(), priority: state.priority,
                        snapshot: publisher == nil ? nil : state.metricsSnapshot, policy: policy)
                }
            let step = decision.step
            let ready = decision.ready
            let priority = decision.priority
            let snapshot = decision.snapshot
            if announcedSleep, step != .sleep {
                // Found work after announcing: take the announcement back,
                // unless a producer has claimed the wake-up; then its post
                // is coming, and taking it keeps the semaphore exact.
                // (Standing aside announces again: leave it.)
                announcedSleep = false
                if step != .standAside, !claimWakeUp() { wakeUp.wait() }
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
                lookedLast = false
                let start = publisher == nil ? nil : ContinuousClock.now
                if let bound = decision.policy.bound {
                    Self.destroy(&batch, on: thread) { publishOneDestroyed(bound: bound.count, thread: thread) }
                    destroyedInBatch = 0
                } else if let maximumWait = decision.policy.maximumWait {
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
                announcedSleep = false
                wakeUp.wait()
            case .standAside:
                destroyedInBatch = 0
                // A producer's drain lasts up to the bound it was taken
                // under; one that outlives a lifted bound wakes the worker.
                _ = wakeUp.wait(nanoseconds: decision.policy.maximumWait ?? Self.standAsideWithoutTimeBound)
                // Stood aside until the time ran out, or was woken: awake either way.
                setStatus(Status.sleeping, false)
            case .announceSleep:
                // The next pass is the last look; the sleeper's side of the
                // fence first (see `_DropQueue+Lanes.swift`).
                destroyedInBatch = 0
                announcedSleep = true
                Self.fenceBeforeLastLook()
            case .lookLast:
                destroyedInBatch = 0
                lookedLast = true
                Self.fenceBeforeLastLook()
            case .stop:
                return
            }
        }
    }

    /// How long (ns) a worker without a time bound waits, at most, for a
    /// producer's drain begun under one to end; the drain wakes it when it
    /// does, so this bounds only a lost race.
    private static let standAsideWithoutTimeBound: UInt64 = 20_000_000

    /// Before the worker's last look at the lanes: every producer's append
    /// so far is visible, or that producer will see what the worker
    /// published before (`sleeping`, `notRunning`).
    private static func fenceBeforeLastLook() {
        let error = _deferdrop_sleeper_fence()
        _precondition(error == 0, "DeferDrop: membarrier() failed with errno \(error)")
    }

    /// With a time bound, the worker's step under the lock between two
    /// batches: gives back what is left in `batch` (the last one outlasted
    /// the bound), and takes every queued value, unless it should stand
    /// aside: returns whether it should.
    ///
    /// Why stand aside: a worker that is behind, at `.idle` on a saturated
    /// machine, is preempted for long stretches, and whatever it has taken
    /// off the queue stays allocated until it runs again. So while it is
    /// catching up and producers are handing over, it leaves the queue to
    /// them, which destroy it in order on their next hand-offs
    /// (`takeQueueToDrain`), and sleeps for up to the bound.
    ///
    /// Whether producers are handing over shows in `producerActivity`: the
    /// values they drained or destroyed inline, which is all a hand-off can
    /// do while the worker is catching up. A producer cannot drain while the
    /// worker holds a batch, so a change since the last boundary means
    /// producers are there, and one since the last stand-aside means they
    /// went on. With none, the worker keeps the queue and drains it as fast
    /// as an unbounded one: a burst followed by quiet costs no stand-aside.
    /// A worker that stands aside holds nothing, so a producer can always
    /// take the queue.
    private func takeNextBatchWithTimeBound(
        _ batch: inout [_ChunkedQueue.Chunk], producerActivity: inout UInt64, now: UInt64, state: inout State
    ) -> Bool {
        let isRunning = if case .running = state.lifecycle { true } else { false }
        state.endCatchingUpIfCaughtUp()
        let activity = state.drainedByProducers &+ destroyedInline.load(ordering: .relaxed)
        let producersAreActive = activity != producerActivity
        producerActivity = activity
        if state.isCatchingUp && isRunning && producersAreActive {
            return true
        }
        state.items.exchange(&batch)
        state.workerHoldsBatch = !batch.isEmpty
        // While catching up, the worker still owes what it owed: producers
        // go on finding it behind until it has caught up.
        if batch.isEmpty {
            workingSince.store(0, ordering: .relaxed)
        } else if !state.isCatchingUp {
            workingSince.store(now, ordering: .relaxed)
        }
        return false
    }

    /// Destroys the items of `batch` in the order they were queued, leaving
    /// the chunks empty, and calls `afterEach` after each
    /// value. Returns how many were destroyed.
    ///
    /// With a `deadline` (coarse monotonic ns), stops once it has passed,
    /// after at least one value, and leaves the rest in `batch`, in order.
    /// On a producer's thread, `thread` is `nil`.
    @discardableResult
    static func destroy(
        _ batch: inout [_ChunkedQueue.Chunk], on thread: _WorkerThreadState?, until deadline: UInt64? = nil,
        afterEach: () -> Void
    ) -> UInt64 {
        // One loop per kind of thread, so that the worker's state is not
        // retained and released around every value.
        if let thread {
            return destroy(&batch, until: deadline, afterEach: afterEach) { thread.release($0) }
        }
        return destroy(&batch, until: deadline, afterEach: afterEach) {
            Unmanaged<AnyObject>.fromOpaque($0).release()
        }
    }

    @inline(__always)
    private static func destroy(
        _ batch: inout [_ChunkedQueue.Chunk], until deadline: UInt64?, afterEach: () -> Void,
        release: (UnsafeMutableRawPointer) -> Void
    ) -> UInt64 {
        var count: UInt64 = 0
        for chunk in batch {
            while !chunk.isEmpty {
                if let deadline, count > 0, _deferdrop_coarse_monotonic_ns() > deadline { return count }
                release(chunk.takeOldest()!)
                count += 1
                afterEach()
            }
        }
        return count
    }

    /// For a bounded queue: counts one more value destroyed as soon as it is,
    /// and lets producers waiting for room go on, so that they go on after one
    /// value rather than a whole batch.
    ///
    /// The values its destructor destroyed in place are counted with it: a
    /// `flush()` that finds every queued value completed returns at once, and
    /// the statistics it then reads must include them (the soak found a
    /// bounded worker's `deferred` short by its nested values).
    private func publishOneDestroyed(bound: UInt64, thread: _WorkerThreadState) {
        let (inPlace, releasedElsewhere) = thread.takeCounts()
        let room = state.withLock { state in
            state.completed += 1
            state.destroyedInPlace += inPlace
            state.releasedElsewhere += releasedElsewhere
            return state.takeRoomWaiters(bound: bound)
        }
        for producer in room { producer.signal() }
    }
}
