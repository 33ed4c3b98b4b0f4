#if ServiceLifecycle
public import ServiceLifecycle

/// A worker runs in a swift-service-lifecycle `ServiceGroup`, with the package
/// trait `ServiceLifecycle` (<doc:InAServer>). List it *before* the services
/// that hand it values: the group stops them first, then the worker drains.
extension DropWorker: Service {
    /// Runs until the service group shuts down gracefully or the task is
    /// cancelled, then shuts the worker down as ``shutdownGracefully()`` does, and
    /// returns once every value handed over before is destroyed; later ones are
    /// destroyed inline. Never throws. For ``shared``, every later
    /// ``deferDrop(_:)-(Value)`` then destroys inline.
    public func run() async throws {
        // Returns on graceful shutdown, throws on cancellation: either way, drain.
        try? await gracefulShutdown()
        await shutdownGracefully()
    }
}
#endif
