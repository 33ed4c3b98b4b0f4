#if ServiceLifecycle
public import ServiceLifecycle

/// A pool runs in a swift-service-lifecycle `ServiceGroup`, with the package
/// trait `ServiceLifecycle`: list it before the services that hand it values,
/// so that they stop first (a group shuts its services down in reverse order).
extension ShardedDropPool: Service {
    /// Runs until the service group shuts down gracefully (or the task is
    /// cancelled), then shuts every shard down as ``shutdownGracefully()``
    /// does, and returns once every value handed over before is destroyed.
    ///
    /// Values handed over after the shutdown has begun are destroyed inline by
    /// the thread that hands them over, so none is lost. Never throws:
    /// cancellation drains the pool just the same.
    public func run() async throws {
        // Returns on graceful shutdown, throws on cancellation: either way, drain.
        try? await gracefulShutdown()
        await shutdownGracefully()
    }
}
#endif
