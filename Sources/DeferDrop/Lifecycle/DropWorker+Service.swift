#if ServiceLifecycle
public import ServiceLifecycle

/// A worker runs in a swift-service-lifecycle `ServiceGroup`, with the package
/// trait `ServiceLifecycle`.
///
/// ```swift
/// let worker = DropWorker(name: "responses")
/// let group = ServiceGroup(services: [worker, server], logger: logger)
/// try await group.run()
/// ```
///
/// A `ServiceGroup` shuts its services down in the reverse of their order, so
/// list the worker *before* the services that hand it values: they stop first,
/// and the worker then drains everything they handed over.
extension DropWorker: Service {
    /// Runs until the service group shuts down gracefully (or the task is
    /// cancelled), then shuts the worker down as ``shutdownGracefully()``
    /// does, and returns once every value handed over before is destroyed.
    ///
    /// The worker takes values before `run()` is called, and its thread starts
    /// with the first of them as usual: `run()` only ties the worker's end to
    /// the group's. Values handed over after the shutdown has begun are
    /// destroyed inline by the thread that hands them over, so none is lost.
    /// Never throws: cancellation drains the worker just the same.
    ///
    /// Running ``shared`` in a group makes every ``deferDrop(_:)-(Value)``
    /// after the group's shutdown destroy inline, for the rest of the process.
    public func run() async throws {
        // Returns on graceful shutdown, throws on cancellation: either way, drain.
        try? await gracefulShutdown()
        await shutdownGracefully()
    }
}
#endif
