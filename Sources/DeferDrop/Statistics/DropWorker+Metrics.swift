#if Metrics
public import CoreMetrics

extension DropWorker {
    /// Creates a private worker that reports its metrics to `metricsFactory`.
    ///
    /// Every worker reports, with the package trait `Metrics`: one made without
    /// this argument reports to `MetricsSystem.factory`, as it stands when the
    /// worker's first value arrives (so bootstrap the metrics system before
    /// handing values over). The package itself never bootstraps it.
    ///
    /// The worker's thread publishes its counters once per batch of values it
    /// takes, never the threads that hand values over: a hand-off costs the
    /// same with metrics as without. Each metric carries the dimension
    /// `worker` with this worker's ``name``:
    ///
    /// | Label | Kind | Meaning |
    /// |---|---|---|
    /// | `deferdrop_values_deferred_total` | counter | Values handed to the worker, ``DropStatistics/deferred``. |
    /// | `deferdrop_values_destroyed_total` | counter | Values destroyed from the worker's queue: by its thread, or, while a time-bounded worker was behind, by a producer. |
    /// | `deferdrop_values_destroyed_inline_total` | counter | Values destroyed on a producer's thread rather than the worker's, ``DropStatistics/destroyedInline``. |
    /// | `deferdrop_values_released_elsewhere_total` | counter | ``DropStatistics/releasedElsewhere``. |
    /// | `deferdrop_values_pending` | gauge | Values waiting when the worker took its last batch. |
    /// | `deferdrop_reclaimed_bytes_total` | counter | Bytes the worker's thread freed (trait `Jemalloc` only). |
    /// | `deferdrop_batch_duration_seconds` | timer | How long the worker took to destroy each batch. |
    ///
    /// In the child of a `fork()`, a worker inherited from the parent reports
    /// nothing: the backend's locks may have been held by another thread at
    /// the moment of the fork, and the child's copy of the backend is not what
    /// the parent's scrapes read. A worker made in the child reports as usual.
    ///
    /// - Parameters:
    ///   - name: Names the worker, its thread and the `worker` dimension. Must
    ///     not be empty and must not contain a NUL character.
    ///   - capacity: How far the worker may fall behind: see ``DropCapacity``.
    ///   - priority: The worker thread's scheduling class: see ``DropPriority``.
    ///   - metricsFactory: Makes the worker's metrics, on its first value.
    public convenience init(
        name: String, capacity: DropCapacity = .default, priority: DropPriority,
        metricsFactory: any MetricsFactory
    ) {
        self.init(checkingName: name, capacity: capacity, priority: priority, metrics: .factory(metricsFactory))
    }

    /// Creates a private worker that reports its metrics to `metricsFactory`,
    /// running at its capacity's ``DropCapacity/defaultPriority``: see
    /// ``init(name:capacity:priority:metricsFactory:)``.
    public convenience init(name: String, capacity: DropCapacity = .default, metricsFactory: any MetricsFactory) {
        self.init(checkingName: name, capacity: capacity, priority: nil, metrics: .factory(metricsFactory))
    }
}
#endif
