#if Metrics
package import CoreMetrics
#endif

/// Where a worker's metrics go: chosen by its initializer, and by a pool for
/// its shards.
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
/// Why the worker publishes, not the producers: a hand-off must stay a few
/// stores under the queue's lock. So the producers touch no metric at all
/// (except on the inline path, where they destroy the value themselves and one
/// counter increment is noise). The worker reads its counters under the lock it
/// takes once per batch anyway and reports what changed since its last report,
/// with the lock released.
///
/// The handles are made on first use, not with the worker: `DropWorker.shared`
/// is made when first touched, which may be before the program bootstraps its
/// metrics backend, and a handle made from the default factory before
/// `MetricsSystem.bootstrap` would report to nowhere for ever.
///
/// Why a worker inherited by the child of a `fork()` reports nothing there:
/// making or updating a handle runs the backend's code, and with it the
/// backend's locks (and `MetricsSystem`'s), which another thread of the parent
/// may have held at the moment of the fork, and which then stay held for ever
/// in the child. A worker that reported would hang the child's first batch.
/// The child's copy of the backend is also not what the parent's scrapes read.
/// A worker made in the child reports as usual.
final class _WorkerMetrics: Sendable {
    /// The factory given to the worker; `nil` for `MetricsSystem.factory` as
    /// it is when the handles are made.
    private let factory: (any MetricsFactory)?
    private let dimensions: [(String, String)]
    private let handles = _Lock(HandlesState.notMade)

    private enum HandlesState: Sendable {
        case notMade
        case made(Handles)
        /// In the child of a `fork()`: see the type's documentation.
        case silencedInForkChild
    }

    /// The metrics of the worker named `workerName`.
    init(_ destination: _MetricsDestination, workerName: String) {
        switch destination {
        case .defaultFactory: factory = nil
        case .factory(let given): factory = given
        }
        dimensions = [(Self.workerDimension, workerName)]
        handles.keepAcrossFork(rank: .workerMetrics) { $0 = .silencedInForkChild }
    }

    /// The dimension that carries the worker's name on every metric.
    static let workerDimension = "worker"

    /// The metrics of one worker: the labels are documented in the DocC article
    /// "Metrics" and in `Docs/Server.md`.
    struct Handles: Sendable {
        let deferred: Counter
        let destroyed: Counter
        let destroyedInline: Counter
        let releasedElsewhere: Counter
        let pending: Gauge
        /// `nil` where the allocator does not count bytes per thread.
        let reclaimedBytes: Counter?
        let batchDuration: Timer

        init(factory: any MetricsFactory, dimensions: [(String, String)]) {
            deferred = Counter(label: "deferdrop_values_deferred_total", dimensions: dimensions, factory: factory)
            destroyed = Counter(label: "deferdrop_values_destroyed_total", dimensions: dimensions, factory: factory)
            destroyedInline = Counter(
                label: "deferdrop_values_destroyed_inline_total", dimensions: dimensions, factory: factory)
            releasedElsewhere = Counter(
                label: "deferdrop_values_released_elsewhere_total", dimensions: dimensions, factory: factory)
            pending = Gauge(label: "deferdrop_values_pending", dimensions: dimensions, factory: factory)
            reclaimedBytes =
                _ThreadFreedBytes.isAvailable
                ? Counter(label: "deferdrop_reclaimed_bytes_total", dimensions: dimensions, factory: factory)
                : nil
            batchDuration = Timer(label: "deferdrop_batch_duration_seconds", dimensions: dimensions, factory: factory)
        }
    }

    /// The worker's handles, made on the first call; `nil` in the child of a
    /// `fork()`.
    func makeHandles() -> Handles? {
        handles.withLock { state in
            switch state {
            case .made(let handles):
                return handles
            case .silencedInForkChild:
                return nil
            case .notMade:
                let made = Handles(factory: factory ?? MetricsSystem.factory, dimensions: dimensions)
                state = .made(made)
                return made
            }
        }
    }

    /// Called by a producer that destroyed `count` queued values, having found
    /// the worker behind: they were counted as deferred when queued, and as
    /// destroyed with the worker's next report.
    func countDrainedByProducer(_ count: UInt64) {
        guard count > 0, let handles = makeHandles() else { return }
        handles.destroyedInline.increment(by: Int64(count))
    }

    /// Called by a producer that destroyed `count` values itself: each handed
    /// over and destroyed inline.
    func countDestroyedInline(_ count: UInt64) {
        guard count > 0, let handles = makeHandles() else { return }
        handles.deferred.increment(by: Int64(count))
        handles.destroyedInline.increment(by: Int64(count))
    }

    /// Metrics for a queue that runs every code path once before the first
    /// fork (`_DropQueue.runEveryCodePathOnce()`), reporting to swift-metrics'
    /// no-op handler, so that its paths run too.
    static var forCodePathRun: _WorkerMetrics? {
        _WorkerMetrics(.factory(NOOPMetricsHandler.instance), workerName: "fork")
    }

    /// The worker thread's side: what it has reported so far, so that each
    /// report adds only what changed. Lives on the worker's stack; no other
    /// thread sees it.
    struct Publisher {
        /// `nil` in the child of a `fork()`, where the worker reports nothing.
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

        /// Adds to `counter` what a running total gained since it was last
        /// reported, if it is known and there is a counter for it.
        private static func add(_ total: UInt64?, since reported: UInt64?, to counter: Counter?) {
            guard let total, let counter, total > reported ?? 0 else { return }
            counter.increment(by: total - (reported ?? 0))
        }

        /// Records how long the worker took to destroy one batch.
        func recordBatch(nanoseconds: Int64) {
            handles?.batchDuration.recordNanoseconds(nanoseconds)
        }
    }
}
#else
/// Without the package trait `Metrics` a worker reports nothing: this type has
/// no values, so every `metrics?.…` call on the worker compiles away.
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
