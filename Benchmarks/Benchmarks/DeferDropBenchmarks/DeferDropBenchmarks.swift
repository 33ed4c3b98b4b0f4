import Benchmark
import DeferDrop
import Dispatch
import Foundation
import Synchronization

/// Metrics of our own, next to the framework's wall clock, throughput, peak
/// resident memory and malloc counts.
enum Metrics {
    /// The slowest producer's time per value handed over (streams).
    static let producerCost = BenchmarkMetric.custom("producer ns per value", polarity: .prefersSmaller, useScalingFactor: false)
    /// From the first hand-off until everything is destroyed, in microseconds.
    static let untilDestroyed = BenchmarkMetric.custom("until destroyed (µs)", polarity: .prefersSmaller, useScalingFactor: false)
    /// Values destroyed per second, in thousands, from the first hand-off to the last destruction.
    static let drainRate = BenchmarkMetric.custom("destroyed per s (K)", polarity: .prefersLarger, useScalingFactor: false)
    /// Rounds (build, work, drop) per second, all producers together, until
    /// every value is destroyed: a backlog left to a worker is work not yet done.
    static let roundsPerSecond = BenchmarkMetric.custom("rounds per s", polarity: .prefersLarger, useScalingFactor: false)
    /// The 99th percentile of one round's time, in microseconds (saturated).
    static let roundP99 = BenchmarkMetric.custom("round p99 (µs)", polarity: .prefersSmaller, useScalingFactor: false)
    /// Of the values handed over, the share their producers destroyed inline, in percent.
    static let inlinePercent = BenchmarkMetric.custom("freed inline (%)", polarity: .prefersSmaller, useScalingFactor: false)
    /// Bytes the destroying threads freed, in KiB (jemalloc; not for Dispatch,
    /// Task or Thread, whose frees land on threads nobody can name).
    static let reclaimed = BenchmarkMetric.custom("reclaimed (KiB)", polarity: .prefersLarger, useScalingFactor: false)
}

/// The regression gate: `metric`'s median may not grow by more than 20% against
/// the committed baseline; the other metrics are reported, never gated (the
/// framework's default would fail them at 5%, well within this machine's noise).
func gate(_ metric: BenchmarkMetric, among metrics: [BenchmarkMetric]) -> [BenchmarkMetric: BenchmarkThresholds] {
    Dictionary(uniqueKeysWithValues: metrics.map { candidate in
        (candidate, candidate == metric ? BenchmarkThresholds(relative: [.p50: 20.0]) : BenchmarkThresholds.none)
    })
}

/// Reported, never gated.
func ungated(_ metrics: [BenchmarkMetric]) -> [BenchmarkMetric: BenchmarkThresholds] {
    Dictionary(uniqueKeysWithValues: metrics.map { ($0, BenchmarkThresholds.none) })
}

let memoryMetrics: [BenchmarkMetric] = [.peakMemoryResident, .mallocCountTotal]
let largeDropMetrics: [BenchmarkMetric] = [.wallClock] + memoryMetrics + [Metrics.untilDestroyed, Metrics.reclaimed]
let streamMetrics: [BenchmarkMetric] = [.wallClock, Metrics.producerCost, Metrics.untilDestroyed, Metrics.drainRate] + memoryMetrics
let drainMetrics: [BenchmarkMetric] = [.wallClock, Metrics.drainRate] + memoryMetrics

let benchmarks: @Sendable () -> Void = {
    // Every benchmark waits for its own values, so the drain at exit has
    // nothing to do. It is switched off anyway: malloc-interposer 1.6.1 reads
    // the 8 bytes before every pointer it is asked to free, and crashes when
    // jemalloc hands out a block at the very start of a mapping; the fewer
    // frees after the last benchmark, the rarer that crash (Docs/Benchmarks.md).
    DropWorker.shared.drainsAtExit = false
    sharedPool.drainsAtExit = false
    timeBoundedWorker.drainsAtExit = false
    timeBoundedPool.drainsAtExit = false
    for worker in priorityWorkers.values { worker.drainsAtExit = false }

    Benchmark.defaultConfiguration = .init(
        metrics: largeDropMetrics,
        timeUnits: .microseconds,
        // Our metrics carry their unit in their name: print them unscaled.
        units: [
            Metrics.producerCost: .count, Metrics.untilDestroyed: .count, Metrics.reclaimed: .count,
            Metrics.drainRate: .count, Metrics.roundsPerSecond: .count, Metrics.roundP99: .count,
            Metrics.inlinePercent: .count,
        ],
        warmupIterations: 1,
        maxDuration: .seconds(10),
        maxIterations: 20)

    // 1 and 2: one large structure, dropped once per iteration. The wall clock
    // is the time on the producer; `until destroyed` includes the worker's part.
    for mode in Mode.original {
        largeDrop("Crate demo, 1000x1000 strings", mode: mode, make: makeCrateDemo)
        largeDrop("Article map, 1M keys", mode: mode, make: makeArticleMap)
    }

    // 3: a million small objects, handed over one at a time by 1, 2 or 4 threads.
    for producers in [1, 2, 4] {
        for mode in Mode.streaming {
            stream(producers: producers, mode: mode)
        }
    }

    // 4: sporadic hand-offs, each finding the worker asleep.
    for mode in Mode.original {
        sporadic(mode: mode)
    }

    // 5: hand-off latency while the worker destroys the previous value.
    for mode in Mode.original {
        latencyUnderLoad(mode: mode)
    }

    // 6: how long until a million handed-over objects are all destroyed, from 2 producers.
    for mode in Mode.streaming {
        drain(mode: mode)
    }

    // 7: the worker's scheduling class, on the two hand-offs a wake-up can hurt.
    for priority in [DropPriority.normal, .batch, .idle] {
        priorityLatency(priority)
        priorityWakeUp(priority)
        priorityWakeUp(priority, otherCoresBusy: true)
    }

    // 8: every core busy: producers that build, work on and drop a large map, as a saturated server does.
    for mode in Mode.saturated {
        saturated(mode: mode)
    }
}

/// A private worker per priority, so the classes do not mix.
let priorityWorkers: [DropPriority: DropWorker] = Dictionary(uniqueKeysWithValues: [DropPriority.normal, .batch, .idle].map {
    ($0, DropWorker(name: "bench-\($0)", capacity: .unbounded, priority: $0))
})

/// Workload 5 on a worker of the given priority.
func priorityLatency(_ priority: DropPriority) {
    let worker = priorityWorkers[priority]!
    latencyWhileBusy("Priority: hand-off latency, 20k objects while busy · \(priority)", backlog: Backlog()) { value in
        worker.dispose(consume value)
    }
}

/// Workload 4 with a large value (a 20k-object array) on a worker of the
/// given priority: every hand-off wakes it, and then it has 20k releases to do
/// on whichever core it was woken onto. With `otherCoresBusy`, a spinning
/// thread of normal priority occupies every other core, so the woken worker
/// can only land on a busy core: the producer's, or the spinner's.
func priorityWakeUp(_ priority: DropPriority, otherCoresBusy: Bool = false) {
    let worker = priorityWorkers[priority]!
    let spinners = Spinners()
    Benchmark(
        "Priority: wake-up hand-off, 20k objects per 50 µs\(otherCoresBusy ? ", other cores busy" : "") · \(priority)",
        configuration: .init(
            metrics: [.wallClock],
            timeUnits: .nanoseconds,
            warmupIterations: 10,
            maxDuration: .seconds(10),
            maxIterations: 500,
            thresholds: ungated([.wallClock]),
            setup: { if otherCoresBusy { spinners.start(ProcessInfo.processInfo.activeProcessorCount - 1) } },
            teardown: { spinners.stop() })
    ) { benchmark in
        let value = makeLeaves(20_000)
        worker.flush()
        usleep(50)
        benchmark.startMeasurement()
        worker.dispose(consume value)
        // What the producer does next, about 10 µs of work of its own, is timed
        // with the hand-off: a worker that preempts the producer when it wakes
        // delays exactly this.
        var sum = 0
        for index in 0..<20_000 { sum &+= index &* 31 }
        blackHole(sum)
        benchmark.stopMeasurement()
    }
}

/// Times handing one value from `make()` over through `mode`.
func largeDrop<Value: Sendable>(_ workload: String, mode: Mode, make: @escaping @Sendable () -> Value) {
    Benchmark("\(workload) · \(mode.rawValue)", configuration: .init(thresholds: ungated(largeDropMetrics))) { benchmark in
        let value = make()
        let bytesBefore = mode.reclaimedBytes
        benchmark.startMeasurement()
        let start = ContinuousClock.now
        mode.handOver(consume value)
        benchmark.stopMeasurement()
        mode.waitUntilDestroyed()
        record(benchmark, since: start, mode: mode, bytesBefore: bytesBefore)
    }
}

/// `producers` threads hand over 1,000,000 small objects in all.
func stream(producers: Int, mode: Mode) {
    Benchmark(
        "Stream 1M objects, \(producers) producers · \(mode.rawValue)",
        configuration: .init(
            metrics: streamMetrics,
            maxIterations: 10,
            // Gated for this package's modes only: the others are not ours to regress.
            thresholds: [.sharedWorker, .pool].contains(mode)
                ? gate(Metrics.producerCost, among: streamMetrics) : ungated(streamMetrics))
    ) { benchmark in
        var start = ContinuousClock.now
        let times = runProducers(
            producers, perProducer: 1_000_000 / producers, mode: mode,
            started: { start = ContinuousClock.now; benchmark.startMeasurement() },
            finished: { benchmark.stopMeasurement() })
        mode.waitUntilDestroyed()
        let slowest = times.max()!
        benchmark.measurement(Metrics.producerCost, nanoseconds(slowest) / (1_000_000 / producers))
        let untilDestroyed = nanoseconds(ContinuousClock.now - start)
        benchmark.measurement(Metrics.untilDestroyed, untilDestroyed / 1_000)
        benchmark.measurement(Metrics.drainRate, 1_000_000 * 1_000_000 / untilDestroyed)
    }
}

/// One 1,000-element array every 50 µs or so: the worker has gone back to
/// sleep before each hand-off, which must wake it.
func sporadic(mode: Mode) {
    Benchmark(
        "Sporadic, one value per 50 µs · \(mode.rawValue)",
        configuration: .init(
            metrics: [.wallClock],
            timeUnits: .nanoseconds,
            warmupIterations: 10,
            maxDuration: .seconds(5),
            maxIterations: 1_000,
            thresholds: ungated([.wallClock]))
    ) { benchmark in
        let value = (0..<1_000).map(Leaf.init)
        mode.waitUntilDestroyed()
        usleep(50)
        benchmark.startMeasurement()
        mode.handOver(consume value)
        benchmark.stopMeasurement()
    }
}

/// 200 hand-offs of a 20,000-object array (`DEFERDROP_LATENCY_SAMPLES` sets
/// another count), each while the worker is still destroying the one before:
/// the distribution of the hand-off's time. The
/// arrays are built before the timed loop and the producer does 100 µs of its
/// own work between hand-offs, less than the 20k releases take, so the worker
/// is busy at every hand-off (building an array in the loop would take longer
/// than destroying one and let the worker fall asleep each time: that is
/// workload 7's wake-up case).
func latencyUnderLoad(mode: Mode) {
    let backlog = Backlog<[Leaf]>()
    latencyWhileBusy("Hand-off latency, 20k objects while busy · \(mode.rawValue)", backlog: backlog) { value in
        mode.handOver(consume value)
    }
}

/// The body of workload 5, for any way of handing a value over.
func latencyWhileBusy(_ name: String, backlog: Backlog<[Leaf]>, handOver: @escaping @Sendable (consuming [Leaf]) -> Void) {
    let samples = Int(ProcessInfo.processInfo.environment["DEFERDROP_LATENCY_SAMPLES"] ?? "") ?? 200
    Benchmark(
        name,
        configuration: .init(
            metrics: [.wallClock],
            timeUnits: .nanoseconds,
            warmupIterations: 0,
            maxDuration: .seconds(30),
            maxIterations: samples,
            thresholds: ungated([.wallClock]),
            setup: { backlog.fill(samples + 1) { makeLeaves(20_000) } })
    ) { benchmark in
        let value = backlog.next()
        benchmark.startMeasurement()
        handOver(consume value)
        benchmark.stopMeasurement()
        producerWork(microseconds: 100)
    }
}

/// 2 producers hand over 500,000 small objects each; the wall clock runs until
/// every one is destroyed.
func drain(mode: Mode) {
    Benchmark(
        "Drain 1M objects, 2 producers · \(mode.rawValue)",
        configuration: .init(
            metrics: drainMetrics,
            maxIterations: 10,
            thresholds: ungated(drainMetrics))
    ) { benchmark in
        var start = ContinuousClock.now
        _ = runProducers(
            2, perProducer: 500_000, mode: mode,
            started: { start = ContinuousClock.now; benchmark.startMeasurement() },
            finished: {})
        mode.waitUntilDestroyed()
        benchmark.stopMeasurement()
        benchmark.measurement(Metrics.drainRate, 1_000_000 * 1_000_000 / nanoseconds(ContinuousClock.now - start))
    }
}

/// Records how long destruction took since `start` and what it gave back.
func record(_ benchmark: Benchmark, since start: ContinuousClock.Instant, mode: Mode, bytesBefore: UInt64?) {
    benchmark.measurement(Metrics.untilDestroyed, nanoseconds(ContinuousClock.now - start) / 1_000)
    if let bytesBefore, let bytesAfter = mode.reclaimedBytes {
        benchmark.measurement(Metrics.reclaimed, Int(bytesAfter - bytesBefore) / 1_024)
    }
}

func nanoseconds(_ duration: Duration) -> Int {
    Int(duration.components.seconds) * 1_000_000_000 + Int(duration.components.attoseconds / 1_000_000_000)
}

/// Workload 8: one producer thread per core, each running rounds of: build a
/// 50,000-key map, do 2 ms of work of its own, drop the map through `mode`;
/// 40 rounds each. Every core is busy with producers, so whatever a worker
/// does, it does with CPU the producers want: the question is whether
/// deferring still costs no throughput, latency or memory (Docs/Server.md asks
/// the same of a real server).
func saturated(mode: Mode) {
    let metrics: [BenchmarkMetric] = [.wallClock, Metrics.roundsPerSecond, Metrics.roundP99, Metrics.inlinePercent]
        + memoryMetrics
    Benchmark(
        "Saturated: build, work, drop a 50k-key map on every core · \(mode.rawValue)",
        configuration: .init(metrics: metrics, maxDuration: .seconds(20), maxIterations: 5, thresholds: ungated(metrics))
    ) { benchmark in
        let producers = ProcessInfo.processInfo.activeProcessorCount
        let rounds = 40
        let inlineBefore = mode.destroyedInline
        let roundTimes = Mutex<[Duration]>([])
        let start = ContinuousClock.now
        onThreads(producers) {
            var times: [Duration] = []
            for _ in 0..<rounds {
                let roundStart = ContinuousClock.now
                var map: [Int: [Int]] = [:]
                map.reserveCapacity(50_000)
                for key in 0..<50_000 { map[key] = [key] }
                producerWork(microseconds: 2_000)
                mode.handOver(consume map)
                times.append(ContinuousClock.now - roundStart)
            }
            roundTimes.withLock { $0 += times }
        }
        mode.waitUntilDestroyed()
        let elapsed = ContinuousClock.now - start
        let times = roundTimes.withLock { $0 }.sorted()
        benchmark.measurement(Metrics.roundsPerSecond, times.count * 1_000_000_000 / nanoseconds(elapsed))
        benchmark.measurement(Metrics.roundP99, nanoseconds(times[times.count * 99 / 100]) / 1_000)
        if let inlineBefore, let inlineAfter = mode.destroyedInline {
            benchmark.measurement(Metrics.inlinePercent, Int(inlineAfter - inlineBefore) * 100 / times.count)
        }
    }
}

/// Runs `body` on `count` new threads at once and returns when all have finished.
func onThreads(_ count: Int, _ body: @escaping @Sendable () -> Void) {
    let done = DispatchGroup()
    for _ in 0..<count {
        done.enter()
        Thread {
            body()
            done.leave()
        }.start()
    }
    done.wait()
}
