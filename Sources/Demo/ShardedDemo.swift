import DeferDrop
import Synchronization
import ShardedDrop

/// What each producer hands over: 100 heap strings, like a parsed request or
/// a page of results. Destroying one frees 101 blocks.
typealias Garbage = [String]

/// Several producer threads hand over many values at once, three ways: freed
/// inline, through the single global worker, and through a sharded pool.
func producersDemo(producers: Int = 4, valuesPerProducer: Int = 10_000) {
    let pool = ShardedDropPool()
    print("\(producers) producer threads each hand over \(grouped(valuesPerProducer)) values (\(grouped(producers * valuesPerProducer * 101)) blocks to free in all)")
    print("  mode                              slowest producer      CPU per value    all destroyed after")

    let inline = runProducers(producers, valuesPerProducer) { _ = consume $0 }
    report("freed inline (no deferral)", inline)

    let before = DropWorker.shared.statistics
    // `deferDrop(_:)`, the global worker's hand-off as users write it:
    // `DropWorker.shared.dispose(_:)` called from this module would retain and
    // release the worker around every hand-off (its documentation says why).
    let single = runProducers(producers, valuesPerProducer) { deferDrop($0) } finish: {
        DropWorker.shared.flush()
    }
    report("DropWorker.shared (one thread)", single)
    let after = DropWorker.shared.statistics
    let freedInline = after.destroyedInline - before.destroyedInline
    var summary = "    the worker destroyed \(grouped(Int(after.destroyed - before.destroyed - freedInline)))"
    if let start = before.reclaimedBytes, let end = after.reclaimedBytes {
        summary += " and gave back \(_ByteCount.format(end - start))"
    }
    summary += "; peak \(grouped(Int(after.peakPending))) pending"
    if freedInline > 0 { summary += "; \(grouped(Int(freedInline))) freed inline while it was behind" }
    print(summary)

    // Like long-lived server threads, each producer is pinned before it starts.
    // (A thread is pinned on its first hand-off otherwise; one that exits
    // early frees its shard for the next new thread.)
    let shards = Mutex<[Int]>([])
    let sharded = runProducers(producers, valuesPerProducer) {
        let shard = pool.currentThreadShard
        shards.withLock { $0.append(shard) }
    } handOver: {
        pool.dispose($0)
    } finish: {
        pool.flush()
    }
    report("ShardedDropPool (\(pool.shardCount) shards)", sharded)
    let statistics = pool.statistics
    let destroyed = statistics.map { grouped(Int($0.destroyed - $0.destroyedInline)) }.joined(separator: " / ")
    let pinned = (0..<pool.shardCount).map { shard in String(shards.withLock { $0.count { $0 == shard } }) }
    let shardsFreedInline = statistics.reduce(0) { $0 + $1.destroyedInline }
    print(
        "    per shard: \(destroyed) destroyed; producers \(pinned.joined(separator: " / "))"
            + (shardsFreedInline > 0
                ? "; \(grouped(Int(shardsFreedInline))) freed inline while a shard was behind" : ""))
    let reclaimed = statistics.compactMap(\.reclaimedBytes)
    if reclaimed.count == statistics.count {
        print("    per shard: gave back \(reclaimed.map(_ByteCount.format).joined(separator: " / "))")
    }
    print("  (slowest producer: wall-clock time to hand over or free its values; CPU per value: the")
    print("   producers' processor time per value. \(producers) producers and the workers share")
    print("   \(ShardedDropPool.defaultShardCount) processors, so the time until all is destroyed is bounded by the machine)")
    pool.shutdown()
}

struct ProducerRun {
    /// The slowest producer's time handing its values over.
    var slowestProducer: Duration
    /// Processor time a producer spent per value handed over (not counting
    /// time it waited for a core).
    var perValue: Duration
    /// From the producers' common start until every value was destroyed.
    var untilDestroyed: Duration
}

/// Each producer builds its values and runs `prepare` first (not timed), then
/// all start together and hand theirs over one by one through `handOver`;
/// `finish` waits until everything is destroyed.
func runProducers(
    _ producers: Int,
    _ valuesPerProducer: Int,
    prepare: @escaping @Sendable () -> Void = {},
    handOver: @escaping @Sendable (consuming Garbage) -> Void,
    finish: () -> Void = {}
) -> ProducerRun {
    let startTimes = Mutex<[ContinuousClock.Instant]>([])
    let cpu = Mutex<[Duration]>([])
    let times = onProducerThreads(producers) { producer, start in
        var values = (0..<valuesPerProducer).map { _ in (0..<100).map { _ in freshCopy(element) } }
        prepare()
        start()
        let begin = ContinuousClock.now
        startTimes.withLock { $0.append(begin) }
        let cpuBegin = threadCPUTime()
        while let value = values.popLast() {
            handOver(consume value)
        }
        cpu.withLock { $0.append(threadCPUTime() - cpuBegin) }
        return ContinuousClock.now - begin
    }
    finish()
    let end = ContinuousClock.now
    let slowest = times.max()!
    return ProducerRun(
        slowestProducer: slowest,
        perValue: cpu.withLock { $0.reduce(.zero, +) } / (producers * valuesPerProducer),
        untilDestroyed: end - startTimes.withLock { $0.min()! })
}

private func report(_ mode: String, _ run: ProducerRun) {
    print("  " + padded(mode, 34) + padded(format(run.slowestProducer), 22) + padded(format(run.perValue), 17)
        + format(run.untilDestroyed))
}

/// `text` followed by spaces up to `width` characters.
private func padded(_ text: String, _ width: Int) -> String {
    text + String(repeating: " ", count: max(width - text.count, 1))
}

/// `1,000,000`.
func grouped(_ number: Int) -> String {
    var digits = Array(String(number))
    var index = digits.count - 3
    while index > 0 {
        digits.insert(",", at: index)
        index -= 3
    }
    return String(digits)
}

/// Processor time the calling thread has used.
func threadCPUTime() -> Duration {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return .seconds(now.tv_sec) + .nanoseconds(now.tv_nsec)
}
