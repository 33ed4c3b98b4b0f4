#if Metrics
import CoreMetrics
import DeferDrop
import DeferDropTestSupport
import MetricsTestKit
import Testing

/// Reads one worker's metrics from a `TestMetrics` factory.
struct WorkerMetrics {
    let factory: TestMetrics
    let dimensions: [(String, String)]

    init(_ factory: TestMetrics, worker: String) {
        self.factory = factory
        dimensions = [("worker", worker)]
    }

    func counter(_ label: String) throws -> Int64 {
        try factory.expectCounter(label, dimensions).totalValue
    }

    var deferred: Int64 { get throws { try counter("deferdrop_values_deferred_total") } }
    var destroyed: Int64 { get throws { try counter("deferdrop_values_destroyed_total") } }
    var destroyedInline: Int64 { get throws { try counter("deferdrop_values_destroyed_inline_total") } }
    var releasedElsewhere: Int64 { get throws { try counter("deferdrop_values_released_elsewhere_total") } }
    var pending: [Double] { get throws { try factory.expectGauge("deferdrop_values_pending", dimensions).values } }
    var batches: Int { get throws { try factory.expectTimer("deferdrop_batch_duration_seconds", dimensions).values.count } }
}

@Suite("Metrics (trait Metrics)")
struct MetricsTests {
    @Test("counters and the pending gauge follow a worker's statistics; every metric carries the worker's name")
    func countersFollowStatistics() throws {
        let factory = TestMetrics()
        let worker = DropWorker(name: "metered", capacity: .unbounded, metricsFactory: factory)
        let metrics = WorkerMetrics(factory, worker: "metered")
        let log = DestructionLog()
        let gate = HeldLock()
        let entered = Signal()
        gate.lock()
        // The worker blocks in the first destructor while 100 more values queue up.
        worker.dispose(OnDestroy {
            entered.raise()
            gate.lock()
            gate.unlock()
        })
        try #require(entered.wait(seconds: 30), "the worker never started destroying")
        handOverSequenced(producers: 4, perProducer: 25, to: worker, log: log)
        gate.unlock()
        worker.flush()

        #expect(try metrics.deferred == 101)
        #expect(try metrics.destroyed == 101, "published before flush() returns")
        #expect(try metrics.destroyedInline == 0)
        #expect(try metrics.releasedElsewhere == 0)
        #expect(try metrics.pending.contains(100), "the batch that waited behind the blocked destructor")
        #expect(try metrics.pending.last == 0, "nothing pending after the flush")
        #expect(try metrics.batches >= 2, "one duration per batch destroyed")
        #if Jemalloc
        #expect(try metrics.counter("deferdrop_reclaimed_bytes_total") > 0)
        #else
        #expect(factory.counters(label: "deferdrop_reclaimed_bytes_total").isEmpty, "glibc cannot tell the bytes")
        #endif

        worker.shutdown()
        worker.dispose(Probe(log, sequence: 100))
        #expect(try metrics.deferred == 102)
        #expect(try metrics.destroyedInline == 1, "a producer that destroys inline counts it itself")
        #expect(try metrics.destroyed == 101)
        #expect(log.count == 101)
    }

    @Test("under load: 8 threads × 5,000 values, the counters equal the statistics after flush()")
    func underLoad() throws {
        let factory = TestMetrics()
        let worker = DropWorker(name: "metered-load", capacity: .bounded(64, whenFull: .block), metricsFactory: factory)
        let metrics = WorkerMetrics(factory, worker: "metered-load")
        let log = DestructionLog()
        handOverSequenced(producers: 8, perProducer: 5_000, to: worker, log: log)
        worker.flush()
        let statistics = worker.statistics
        #expect(statistics.deferred == 40_000)
        #expect(try metrics.deferred == Int64(statistics.deferred))
        #expect(try metrics.destroyed == Int64(statistics.destroyed - statistics.destroyedInline))
        #expect(try metrics.pending.allSatisfy { $0 <= 64 }, "a bounded worker never reports more than its bound")
        #expect(log.checkExactlyOnceInOrder(producers: 8, perProducer: 5_000) == nil)
    }

    @Test("values a destructor hands to its own worker count as deferred and destroyed by the worker")
    func nestedValues() throws {
        let factory = TestMetrics()
        let worker = DropWorker(name: "metered-nested", metricsFactory: factory)
        let metrics = WorkerMetrics(factory, worker: "metered-nested")
        let log = DestructionLog()
        worker.dispose(OnDestroy { [worker] in
            for sequence in 0..<10 { worker.dispose(Probe(log, sequence: sequence)) }
        })
        worker.flush()
        #expect(log.count == 10)
        #expect(try metrics.deferred == 11)
        #expect(try metrics.destroyed == 11)
    }

    @Test("a worker made without a factory reports to MetricsSystem.factory, bootstrapped before its first value")
    func defaultFactory() async {
        await #expect(processExitsWith: .success) {
            let factory = TestMetrics()
            MetricsSystem.bootstrap(factory)
            let worker = DropWorker(name: "default-metrics")
            for _ in 0..<10 { worker.dispose([1, 2, 3].map { $0 * 2 }) }
            await worker.flush()
            let deferred = try? factory.expectCounter("deferdrop_values_deferred_total", [("worker", "default-metrics")])
            let destroyed = try? factory.expectCounter("deferdrop_values_destroyed_total", [("worker", "default-metrics")])
            guard deferred?.totalValue == 10, destroyed?.totalValue == 10 else { exit(1) }
        }
    }

    @Test(
        "fork() while a worker is making its metrics: the child's inherited worker reports nothing and never hangs; a worker made in the child reports",
        .forkChildrenHangUnderThreadSanitizer)
    func forkWhileMakingHandles() async {
        // Each child writes how far it got, so that a hang says where.
        let path = temporaryPath("fork-metrics")
        let story = temporaryPath("fork-story")
        defer { unlink(path) }
        let result = await #expect(processExitsWith: .success) { [path = path as String, story = story as String] in
            for round in 0..<20 {
                // A worker whose thread is starting when the process forks: it
                // spends about 0.7 ms making its handles with the lock held.
                let inherited = DropWorker(name: "inherited-\(round)", metricsFactory: SlowMetricsFactory())
                inherited.dispose([round])
                if round % 2 == 1 { usleep(300) }
                let succeeded = succeedsInForkChild("round \(round)", storyPath: story, drainingAtExit: false) {
                    appendLine("round \(round): forked", toFileAt: path)
                    let destroyed = _Lock(0)
                    for _ in 0..<100 { inherited.dispose(OnDestroy { destroyed.withLock { $0 += 1 } }) }
                    appendLine("round \(round): handed 100 to the inherited worker", toFileAt: path)
                    guard flushesInForkChild(inherited, "round \(round)"), destroyed.withLock({ $0 }) == 100 else {
                        printError("round \(round): the inherited worker destroyed \(destroyed.withLock { $0 }) of 100")
                        return false
                    }
                    appendLine("round \(round): the inherited worker flushed", toFileAt: path)
                    let factory = TestMetrics()
                    let made = DropWorker(name: "made-in-child", metricsFactory: factory)
                    for _ in 0..<10 { made.dispose([1, 2, 3].map { $0 * 2 }) }
                    appendLine("round \(round): handed 10 to a new worker", toFileAt: path)
                    guard flushesInForkChild(made, "round \(round)"),
                        (try? WorkerMetrics(factory, worker: "made-in-child").destroyed) == 10
                    else {
                        printError("round \(round): the worker made in the child did not report 10 destroyed")
                        return false
                    }
                    appendLine("round \(round): done", toFileAt: path)
                    return true
                }
                if !succeeded { exit(1) }
                await inherited.flush()
            }
            exit(0)
        }
        if let told = forkStory(at: story, ifFailed: result) { Issue.record(Comment(rawValue: told)) }
        let progress = lines(ofFileAt: path)
        #expect(progress.count == 20 * 5, "the children's last steps: \(progress.suffix(3))")
    }
}

/// A metrics backend that takes 100 µs to make each handle, so that a worker
/// is likely to be making its handles when the test forks.
private final class SlowMetricsFactory: MetricsFactory {
    private func slowly<Handler>(_ handler: Handler) -> Handler {
        usleep(100)
        return handler
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        slowly(NOOPMetricsHandler.instance)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        slowly(NOOPMetricsHandler.instance)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        slowly(NOOPMetricsHandler.instance)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        slowly(NOOPMetricsHandler.instance)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        slowly(NOOPMetricsHandler.instance)
    }

    func destroyCounter(_ handler: any CounterHandler) {}
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {}
    func destroyMeter(_ handler: any MeterHandler) {}
    func destroyRecorder(_ handler: any RecorderHandler) {}
    func destroyTimer(_ handler: any TimerHandler) {}
}
#endif
