#if Metrics
public import CoreMetrics

extension DropWorker {
    /// Creates a private worker that reports its metrics to `metricsFactory`,
    /// with the dimension `worker` set to `name`, non-empty and free of NUL.
    ///
    /// With the package trait `Metrics` every worker reports; one made without
    /// this argument reports to `MetricsSystem.factory` as it stands at its
    /// first value. Only the worker's thread publishes, once per batch, so a
    /// hand-off costs the same with metrics as without. A worker inherited by
    /// the child of a `fork()` reports nothing there. Labels: <doc:InAServer>.
    public convenience init(
        name: String, capacity: DropCapacity = .default, priority: DropPriority,
        metricsFactory: any MetricsFactory
    ) {
        self.init(checkingName: name, capacity: capacity, priority: priority, metrics: .factory(metricsFactory))
    }

    /// Creates a private worker that reports its metrics to `metricsFactory`,
    /// at its capacity's ``DropCapacity/defaultPriority``.
    public convenience init(name: String, capacity: DropCapacity = .default, metricsFactory: any MetricsFactory) {
        self.init(checkingName: name, capacity: capacity, priority: nil, metrics: .factory(metricsFactory))
    }
}
#endif
