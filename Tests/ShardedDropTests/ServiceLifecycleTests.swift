#if ServiceLifecycle
import DeferDrop
import DeferDropTestSupport
import Logging
import ServiceLifecycle
import ShardedDrop
import Testing

/// A service that hands values to a worker and a pool: `before` of them as it
/// starts, the rest once the group begins its graceful shutdown, as a server
/// finishing its last requests would.
private struct Producer: Service {
    let worker: DropWorker
    let pool: ShardedDropPool
    let log: DestructionLog
    let before: Int
    let after: Int
    let started: AsyncStream<Void>.Continuation

    func run() async throws {
        for sequence in 0..<before { handOver(sequence) }
        started.yield()
        try? await gracefulShutdown()
        for sequence in before..<(before + after) { handOver(sequence) }
    }

    private func handOver(_ sequence: Int) {
        worker.dispose(Probe(log, producer: 0, sequence: sequence))
        pool.worker(for: 0).dispose(Probe(log, producer: 1, sequence: sequence))
    }
}

@Suite("ServiceLifecycle (trait ServiceLifecycle)")
struct ServiceLifecycleTests {
    @Test("a ServiceGroup with a worker and a pool shuts down gracefully: the producer stops first, nothing is lost")
    func serviceGroup() async throws {
        let worker = DropWorker(name: "service-worker", capacity: .unbounded)
        let pool = ShardedDropPool(shards: 2, name: "service-pool", capacity: .unbounded)
        let log = DestructionLog()
        let (started, continuation) = AsyncStream<Void>.makeStream()
        let producer = Producer(
            worker: worker, pool: pool, log: log, before: 10_000, after: 10_000, started: continuation)
        // Shut down in reverse order: the producer, then the pool, then the worker.
        let group = ServiceGroup(services: [worker, pool, producer], logger: Logger(label: "deferdrop-tests"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = started.makeAsyncIterator()
            _ = await iterator.next()
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(log.count == 40_000, "every value destroyed by the time run() returns")
        #expect(log.checkExactlyOnceInOrder(producers: 2, perProducer: 20_000) == nil)
        #expect(worker.statistics.destroyedInline == 0, "the producer stopped before the worker did")
        #expect(pool.totalStatistics.destroyedInline == 0, "the producer stopped before the pool did")
        #expect(worker.statistics.pending == 0 && pool.totalStatistics.pending == 0)
        // Stopped for good: later values are destroyed inline, never lost.
        worker.dispose(Probe(log, sequence: 20_000))
        #expect(worker.statistics.destroyedInline == 1)
    }

    @Test("run() drains on cancellation too, and returns without throwing")
    func cancellation() async throws {
        let worker = DropWorker(name: "service-cancel", capacity: .unbounded)
        let log = DestructionLog()
        for sequence in 0..<1_000 {
            worker.dispose(SlowProbe(log, sequence: sequence, duration: .microseconds(20)))
        }
        let running = Task { try await worker.run() }
        running.cancel()
        try await running.value
        #expect(log.count == 1_000, "everything handed over before is destroyed when run() returns")
        worker.dispose(Probe(log, sequence: 1_000))
        #expect(worker.statistics.destroyedInline == 1, "the worker has stopped")
    }
}
#endif
