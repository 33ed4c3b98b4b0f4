#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

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
@usableFromInline
final class _DropQueue: Sendable {
    /// The name the worker's thread carries, already cut to the OS limit.
    let threadName: String
    /// The public name, for messages.
    let name: String

    private let state = _Lock(State())
    /// Posted exactly once for each time the worker went to sleep and was needed.
    private let wakeUp = _Semaphore()

    init(name: String, threadName: String) {
        self.name = name
        self.threadName = threadName
    }

    // MARK: State

    enum Lifecycle: Sendable {
        /// No thread yet: the first value handed over starts one.
        case idle
        /// The worker thread exists and takes values.
        case running(worker: pthread_t)
        /// `shutdown()` was called: the worker destroys everything queued, then
        /// stops. It goes on taking values handed over by its own destructors.
        case stopping(worker: pthread_t)
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
        var items = _ChunkedQueue()
        /// Set by the worker, under the lock, just before it sleeps; cleared by
        /// whoever takes on the duty to post `wakeUp`.
        var workerIsAsleep = false
        /// Values ever appended to `items`.
        var enqueued: UInt64 = 0
        /// Of those, the ones destroyed. Published by the worker once per batch.
        var completed: UInt64 = 0
        /// Values destroyed by the producer because the worker had stopped.
        var destroyedInline: UInt64 = 0
        var peakPending: UInt64 = 0
        /// Bytes the worker's thread has freed, published with `completed`;
        /// `nil` where the allocator cannot tell.
        var reclaimedBytes: UInt64? = _ThreadFreedBytes.isAvailable ? 0 : nil
        var waiters: [(point: WaitPoint, waiter: _Waiter)] = []

        var isOnWorkerThread: Bool {
            switch lifecycle {
            case .running(let worker), .stopping(let worker):
                return pthread_equal(worker, pthread_self()) != 0
            case .idle, .stopped:
                return false
            }
        }

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
    }

    /// Moves `item` into the queue, or destroys it in the calling thread if the
    /// worker has stopped. `item` is `nil` on return either way.
    ///
    /// After `shutdown()` has begun, a value from any thread but the worker's
    /// waits until the worker has drained what was queued before it, and is then
    /// destroyed inline: so a producer's values are destroyed in order even
    /// across a shutdown.
    @usableFromInline
    func enqueue(_ item: inout _DisposalItem?) {
        let handoff: Handoff = state.withLock { state in
            switch state.lifecycle {
            case .idle:
                state.lifecycle = .running(worker: startWorkerThread())
            case .running:
                break
            case .stopping:
                if !state.isOnWorkerThread {
                    let drained = _Semaphore()
                    state.waiters.append((.stopped, .thread(drained)))
                    return .destroyInlineAfterDrain(drained)
                }
            case .stopped:
                return .destroyInline
            }
            state.items.append(item.take()!)
            state.enqueued += 1
            state.peakPending = max(state.peakPending, state.enqueued - state.completed)
            if !state.waiters.isEmpty, state.isOnWorkerThread {
                state.extendBarriersOverNestedValue()
            }
            return state.claimWakeUp() ? .queuedWakeWorker : .queued
        }
        switch handoff {
        case .queued:
            return
        case .queuedWakeWorker:
            wakeUp.signal()
        case .destroyInline:
            destroyInline(item.take()!)
        case .destroyInlineAfterDrain(let drained):
            drained.wait()
            destroyInline(item.take()!)
        }
    }

    private func destroyInline(_ item: consuming _DisposalItem) {
        _ = consume item
        state.withLock { $0.destroyedInline += 1 }
    }

    /// Whether the calling thread is the worker's.
    var isOnWorkerThread: Bool {
        state.withLock { $0.isOnWorkerThread }
    }

    // MARK: Barriers

    /// Returns once every value queued before the call has been destroyed,
    /// and every value their destructors handed to this worker in turn.
    func flush() {
        let semaphore: _Semaphore? = state.withLock { state in
            _precondition(
                !state.isOnWorkerThread,
                """
                flush() was called on the thread of DropWorker "\(name)", from a destructor \
                that worker is running: it would wait for itself forever. Flush from another thread.
                """)
            guard state.completed < state.enqueued else { return nil }
            let semaphore = _Semaphore()
            state.waiters.append((.destroyed(count: state.enqueued), .thread(semaphore)))
            return semaphore
        }
        semaphore?.wait()
    }

    /// Returns once every value queued before the call has been destroyed,
    /// suspending the task rather than blocking its thread.
    func flush() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let mustWait = state.withLock { state in
                guard state.completed < state.enqueued else { return false }
                state.waiters.append((.destroyed(count: state.enqueued), .task(continuation)))
                return true
            }
            if !mustWait { continuation.resume() }
        }
    }

    // MARK: Shutdown

    /// Stops taking values, lets the worker destroy everything queued and stop,
    /// and waits for that unless `wait` is false or the caller is the worker.
    func shutdown(wait: Bool) {
        let (mustWake, drained): (Bool, _Semaphore?) = state.withLock { state in
            var mustWake = false
            switch state.lifecycle {
            case .idle:
                state.lifecycle = .stopped
                return (false, nil)
            case .stopped:
                return (false, nil)
            case .running(let worker):
                state.lifecycle = .stopping(worker: worker)
                mustWake = state.claimWakeUp()
            case .stopping:
                break
            }
            guard wait, !state.isOnWorkerThread else { return (mustWake, nil) }
            let drained = _Semaphore()
            state.waiters.append((.stopped, .thread(drained)))
            return (mustWake, drained)
        }
        if mustWake { wakeUp.signal() }
        drained?.wait()
    }

    // MARK: Statistics

    var statistics: DropStatistics {
        state.withLock { state in
            DropStatistics(
                deferred: state.enqueued + state.destroyedInline,
                destroyed: state.completed + state.destroyedInline,
                peakPending: state.peakPending,
                reclaimedBytes: state.reclaimedBytes)
        }
    }

    // MARK: The worker

    private enum WorkerStep {
        case destroy
        case sleep
        case stop
    }

    /// Starts the worker thread. Called once, under the lock, by the first producer.
    private func startWorkerThread() -> pthread_t {
        _WorkerThread.start(named: threadName) { [self] in runWorker() }
    }

    /// The worker thread's whole life: publish what was destroyed, take the next
    /// batch, destroy it with the lock released, and sleep when there is none.
    private func runWorker() {
        var batch: [_ChunkedQueue.Chunk] = []
        var destroyedInBatch: UInt64 = 0
        let freed = _ThreadFreedBytes()
        while true {
            let reclaimed = freed.bytes
            let (step, ready): (WorkerStep, [_Waiter]) = state.withLock { state in
                state.completed += destroyedInBatch
                if let reclaimed { state.reclaimedBytes = reclaimed }
                state.items.exchange(&batch)
                if !batch.isEmpty {
                    return (.destroy, state.takeReadyWaiters())
                }
                if case .stopping = state.lifecycle {
                    state.lifecycle = .stopped
                    return (.stop, state.takeReadyWaiters())
                }
                state.workerIsAsleep = true
                return (.sleep, state.takeReadyWaiters())
            }
            if !ready.isEmpty {
                // Whoever waited may read the allocator's statistics next: give
                // this thread's cached free blocks back first, so they show.
                _ThreadFreedBytes.flushCurrentThreadCache()
                for waiter in ready { waiter.resume() }
            }
            switch step {
            case .destroy:
                destroyedInBatch = Self.destroy(&batch)
            case .sleep:
                destroyedInBatch = 0
                wakeUp.wait()
            case .stop:
                return
            }
        }
    }

    /// Destroys every item of `batch` in the order it was queued, leaving the
    /// chunks empty with their capacity. Returns how many were destroyed.
    private static func destroy(_ batch: inout [_ChunkedQueue.Chunk]) -> UInt64 {
        var count: UInt64 = 0
        for index in batch.indices {
            // Reversing moves references without retaining them; each popped
            // item is released at the end of its statement, oldest first.
            batch[index].reverse()
            while batch[index].popLast() != nil {
                count += 1
            }
        }
        return count
    }
}
