#if Metrics
package import CoreMetrics
#endif

/// Where a worker's metrics go, chosen by its initializer or its pool.
package enum _MetricsDestination: Sendable {
    /// `MetricsSystem.factory`, with the `Metrics` trait; nowhere without it.
    case defaultFactory
    #if Metrics
    /// The factory the worker was given.
    case factory(any MetricsFactory)
    #endif
}

#if Metrics

/// Where a worker reports its metrics, with the package trait `Metrics`.
///
/// Only the worker publishes, once per batch, what changed since its last
/// report, so a hand-off touches no metric (except when it destroys inline).
/// Handles are made on first use: `DropWorker.shared` may exist before
/// `MetricsSystem.bootstrap`. A worker inherited by a `fork()` child reports
/// nothing there, since the backend's locks may stay held for ever in the child.
final class _WorkerMetrics: Sendable {
    private let destination: _MetricsDestination
    private let workerName: String
    private let handles = _Lock(HandlesState.notMade)

    private enum HandlesState: Sendable {
        case notMade
        case made(Handles)
        /// In the child of a `fork()`: see the type.
        case silencedInForkChild
    }

    init(_ destination: _MetricsDestination, workerName: String) {
        self.destination = destination
        self.workerName = workerName
        handles.keepAcrossFork(rank: .workerMetrics) { $0 = .silencedInForkChild }
    }

    /// One worker's metrics, with the labels the DocC article documents.
    struct Handles: Sendable {
        let deferred: Counter
        let destroyed: Counter
        let destroyedInline: Counter
        let releasedElsewhere: Counter
        let pending: Gauge
        /// `nil` where the allocator does not count bytes per thread.
        let reclaimedBytes: Counter?
        let batchDuration: Timer

        /// `.defaultFactory` is `MetricsSystem.factory` as it is now.
        init(_ destination: _MetricsDestination, workerName: String) {
            let factory = switch destination {
            case .defaultFactory: MetricsSystem.factory
            case .factory(let given): given
            }
            let dimensions = [("worker", workerName)]
            func counter(_ label: String) -> Counter {
                Counter(label: label, dimensions: dimensions, factory: factory)
            }
            deferred = counter("deferdrop_values_deferred_total")
            destroyed = counter("deferdrop_values_destroyed_total")
            destroyedInline = counter("deferdrop_values_destroyed_inline_total")
            releasedElsewhere = counter("deferdrop_values_released_elsewhere_total")
            pending = Gauge(label: "deferdrop_values_pending", dimensions: dimensions, factory: factory)
            reclaimedBytes = _ThreadFreedBytes.isAvailable ? counter("deferdrop_reclaimed_bytes_total") : nil
            batchDuration = Timer(label: "deferdrop_batch_duration_seconds", dimensions: dimensions, factory: factory)
        }
    }

    /// The handles, made on the first call; `nil` in the child of a `fork()`.
    func makeHandles() -> Handles? {
        handles.withLock { state in
            switch state {
            case .made(let handles): return handles
            case .silencedInForkChild: return nil
            case .notMade:
                let made = Handles(destination, workerName: workerName)
                state = .made(made)
                return made
            }
        }
    }

    /// A producer drained `count` queued values: only inline here, since the
    /// worker's reports count them as deferred and destroyed.
    func countDrainedByProducer(_ count: UInt64) {
        guard count > 0, let handles = makeHandles() else { return }
        handles.destroyedInline.increment(by: Int64(count))
    }

    /// A producer destroyed `count` of its own values inline.
    func countDestroyedInline(_ count: UInt64) {
        guard count > 0, let handles = makeHandles() else { return }
        handles.deferred.increment(by: Int64(count))
        handles.destroyedInline.increment(by: Int64(count))
    }

    /// For `_DropQueue.runEveryCodePathOnce()`: the no-op handler, so that the
    /// metrics' paths run too.
    static var forCodePathRun: _WorkerMetrics? {
        _WorkerMetrics(.factory(NOOPMetricsHandler.instance), workerName: "fork")
    }

    /// The worker thread's side: what it has reported so far. Only that
    /// thread sees it.
    struct Publisher {
        private let handles: Handles?
        private var reported = _Counts()

        init(_ metrics: _WorkerMetrics) {
            handles = metrics.makeHandles()
        }

        mutating func publish(_ now: _Counts) {
            guard let handles else { return }
            Self.add(now.deferred, since: reported.deferred, to: handles.deferred)
            Self.add(now.destroyed, since: reported.destroyed, to: handles.destroyed)
            Self.add(now.releasedElsewhere, since: reported.releasedElsewhere, to: handles.releasedElsewhere)
            Self.add(now.reclaimedBytes, since: reported.reclaimedBytes, to: handles.reclaimedBytes)
            handles.pending.record(now.pending)
            reported = now
        }

        /// Adds what a running total gained since it was last reported.
        private static func add(_ total: UInt64?, since reported: UInt64?, to counter: Counter?) {
            guard let total, let counter, total > reported ?? 0 else { return }
            counter.increment(by: total - (reported ?? 0))
        }

        func recordBatch(nanoseconds: Int64) {
            handles?.batchDuration.recordNanoseconds(nanoseconds)
        }
    }
}
#else
/// Without the trait `Metrics`: no values, so every `metrics?.…` call compiles away.
enum _WorkerMetrics: Sendable {
    init?(_ destination: _MetricsDestination, workerName: String) { return nil }

    struct Publisher {
        init(_ metrics: _WorkerMetrics) {}
        mutating func publish(_ now: _Counts) {}
        func recordBatch(nanoseconds: Int64) {}
    }

    func countDestroyedInline(_ count: UInt64) {}
    func countDrainedByProducer(_ count: UInt64) {}
    static var forCodePathRun: _WorkerMetrics? { nil }
}
#endif
