// A probe for Scripts/probe.sh, which builds it against any revision of the
// package. It uses only the public API that every version has, so that every
// revision is measured the same way.
//
//     probe [objects|arrays|large]          hand the values over once, then flush
//     probe [objects|arrays|large] drain    time the worker alone, 15 rounds
//     probe objects cost                     producer time per value against an
//                                            inline release, 9 rounds, medians
//     probe objects producers N              the same with N producer threads at
//                                            once, each handing over 1M / N: the
//                                            slowest one's time per value, and the
//                                            producers' minor page faults
//     probe rounds [THREADS]                 each thread builds, sums and drops a
//                                            10,000-key [Int: [Int]] for 3 s, per
//                                            mode: rounds/s and the p99 round, as
//                                            ratios to dropping inline
//     probe burst                            300 arrays of 5,000 objects handed
//                                            over at once, then nothing: the time
//                                            until a time-bounded worker has
//                                            destroyed them, against an unbounded
//                                            one's, 9 rounds, ratio of the totals
//
// objects: 1,000,000 small class instances; arrays: 200,000 one-element arrays
// (each boxed); large: 1,000 arrays of 1,000 objects. In `drain`, the values
// are handed over while the worker is held up by a gate, so that it has them
// all queued when the gate opens; the time from then until `flush()` returns
// is the worker's alone, printed as the median nanoseconds per value.
import DeferDrop
import Dispatch
import Foundation
import Synchronization

final class Leaf: Sendable {
    let x = 0
}

/// Holds the worker up in its destructor until opened.
final class Gate: Sendable {
    let semaphore = DispatchSemaphore(value: 0)
    deinit { semaphore.wait() }
}

@inline(never)
func handOver(_ mode: String, to worker: DropWorker) -> Int {
    switch mode {
    case "arrays", "large":
        let (count, length) = mode == "arrays" ? (200_000, 1) : (1_000, 1_000)
        var arrays = (0..<count).map { _ in (0..<length).map { _ in Leaf() } }
        while let array = arrays.popLast() {
            worker.dispose(consume array)
        }
        return count
    default:
        var leaves = (0..<1_000_000).map { _ in Leaf() }
        while let leaf = leaves.popLast() {
            worker.dispose(consume leaf)
        }
        return 1_000_000
    }
}

/// Nanoseconds per value to release 1,000,000 small objects inline, then to
/// hand them to `worker` (the producer's time alone), then until the worker
/// has destroyed them all.
@inline(never)
func producerCost(on worker: DropWorker) -> (inline: Double, producer: Double, drained: Double) {
    let count = 1_000_000
    let clock = ContinuousClock()
    func nanoseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1e9 + Double(duration.components.attoseconds) / 1e9
    }
    var leaves = (0..<count).map { _ in Leaf() }
    var start = clock.now
    while let leaf = leaves.popLast() { _ = consume leaf }
    let inline = nanoseconds(clock.now - start)
    leaves = (0..<count).map { _ in Leaf() }
    start = clock.now
    while let leaf = leaves.popLast() { worker.dispose(consume leaf) }
    let producer = nanoseconds(clock.now - start)
    worker.flush()
    let drained = nanoseconds(clock.now - start)
    return (inline / Double(count), producer / Double(count), drained / Double(count))
}

/// With `producers` threads at once, each releasing or handing over
/// 1,000,000 / `producers` small objects: the slowest thread's nanoseconds
/// per value, inline and handed to `worker`, and until all are destroyed.
@inline(never)
func producerCost(of producers: Int, on worker: DropWorker) -> (inline: Double, producer: Double, drained: Double) {
    let perProducer = 1_000_000 / producers
    func slowest(_ handOver: Bool) -> (producer: Double, drained: Double) {
        let ready = DispatchGroup()
        let go = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        let slowest = Mutex<UInt64>(0)
        for _ in 0..<producers {
            ready.enter()
            done.enter()
            Thread {
                var leaves = (0..<perProducer).map { _ in Leaf() }
                ready.leave()
                go.wait()
                let faults = minorFaultsOfThisThread()
                let start = DispatchTime.now().uptimeNanoseconds
                if handOver {
                    while let leaf = leaves.popLast() { worker.dispose(consume leaf) }
                } else {
                    while let leaf = leaves.popLast() { _ = consume leaf }
                }
                let elapsed = DispatchTime.now().uptimeNanoseconds - start
                slowest.withLock { $0 = max($0, elapsed) }
                let faulted = minorFaultsOfThisThread() - faults
                producerFaults.withLock { $0[handOver ? 1 : 0] += faulted }
                done.leave()
            }.start()
        }
        ready.wait()
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<producers { go.signal() }
        done.wait()
        if handOver { worker.flush() }
        let drained = DispatchTime.now().uptimeNanoseconds - start
        return (Double(slowest.withLock { $0 }) / Double(perProducer), Double(drained) / Double(perProducer))
    }
    let inline = slowest(false).producer
    let deferred = slowest(true)
    return (inline, deferred.producer, deferred.drained)
}

/// Minor page faults the producers of `producerCost(of:on:)` took while they
/// released ([0]) or handed over ([1]) their values, over every round.
let producerFaults = Mutex<[Int]>([0, 0])

/// The calling thread's minor page faults so far (0 where the system does not
/// count them per thread).
func minorFaultsOfThisThread() -> Int {
    #if os(Linux)
    var usage = rusage()
    getrusage(__rusage_who_t(1), &usage)  // RUSAGE_THREAD
    return usage.ru_minflt
    #else
    return 0
    #endif
}

/// Nanoseconds from handing over 300 arrays of 5,000 objects at once (all
/// made beforehand) until `worker` has destroyed them all.
@inline(never)
func drainAfterBurst(on worker: DropWorker) -> Double {
    var arrays = (0..<300).map { _ in (0..<5_000).map { _ in Leaf() } }
    let start = DispatchTime.now().uptimeNanoseconds
    while let array = arrays.popLast() { worker.dispose(consume array) }
    worker.flush()
    return Double(DispatchTime.now().uptimeNanoseconds - start)
}

/// One round of the allocation-heavy loop: builds a 10,000-key map, sums it,
/// and drops it through `drop`. Returns the sum, so that nothing is elided.
@inline(never)
func buildSumAndDrop(_ drop: (consuming [Int: [Int]]) -> Void) -> Int {
    var map: [Int: [Int]] = [:]
    map.reserveCapacity(10_000)
    for key in 0..<10_000 { map[key] = [key, key &+ 1] }
    var sum = 0
    for (_, value) in map { sum &+= value[0] &+ value[1] }
    drop(map)
    return sum
}

/// `threads` threads each running rounds for `seconds`: rounds per second in
/// all, and the 99th percentile of one round's nanoseconds.
@inline(never)
func rounds(threads: Int, seconds: Double, _ drop: @escaping @Sendable (consuming [Int: [Int]]) -> Void) -> (perSecond: Double, p99: Double) {
    let durations = Mutex<[UInt64]>([])
    let done = DispatchGroup()
    let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
    for _ in 0..<threads {
        done.enter()
        Thread {
            var mine: [UInt64] = []
            var checksum = 0
            while DispatchTime.now().uptimeNanoseconds < deadline {
                let start = DispatchTime.now().uptimeNanoseconds
                checksum &+= buildSumAndDrop(drop)
                mine.append(DispatchTime.now().uptimeNanoseconds - start)
            }
            if checksum == 42 { print("") }
            durations.withLock { $0 += mine }
            done.leave()
        }.start()
    }
    done.wait()
    let all = durations.withLock { $0 }.sorted()
    return (Double(all.count) / seconds, Double(all[min(all.count - 1, all.count * 99 / 100)]))
}

let arguments = Array(CommandLine.arguments.dropFirst())
let mode = arguments.first ?? "objects"
// Before anything below makes a worker: these modes measure a fresh process.
if runProcessMode(mode, arguments.dropFirst()) { exit(0) }
// Strict, so that every value goes through the queue: the probe holds the
// worker at a gate while values pile up, and the default capacity's producers
// would free them inline after 20 ms.
let worker = DropWorker(name: "probe", capacity: .unbounded)
if mode == "rounds" {
    // Side by side in one run, each mode twice, alternating, so that the
    // machine's drift touches them alike; the ratios use each mode's better run.
    let threads = Int(arguments.dropFirst().first ?? "") ?? 2
    let strict = DropWorker(name: "rounds-strict")
    let server = DropWorker(name: "rounds-server", capacity: .server)
    let modes: [(String, @Sendable (consuming [Int: [Int]]) -> Void)] = [
        ("inline", { _ = consume $0 }),
        ("DropWorker (default, strict)", { strict.dispose(consume $0) }),
        ("DropWorker (.server)", { server.dispose(consume $0) }),
    ]
    var best = [(perSecond: Double, p99: Double)](repeating: (0, .infinity), count: modes.count)
    for _ in 0..<2 {
        for (index, mode) in modes.enumerated() {
            let result = rounds(threads: threads, seconds: 3, mode.1)
            strict.flush()
            server.flush()
            best[index] = (max(best[index].perSecond, result.perSecond), min(best[index].p99, result.p99))
        }
    }
    for (index, mode) in modes.enumerated() {
        let rate = best[index].perSecond / best[0].perSecond
        let tail = best[index].p99 / best[0].p99
        print("\(threads) threads, \(mode.0): \(Int(best[index].perSecond)) rounds/s (\((rate * 100).rounded() / 100)x inline), p99 \((best[index].p99 / 1e4).rounded() / 100) ms (\((tail * 100).rounded() / 100)x inline)")
    }
    print("freed inline by the .server worker: \(server.statistics.destroyedInline) of \(server.statistics.deferred)")
} else if mode == "burst" {
    // Both at `.batch`, so that only the capacity differs; the rounds
    // alternate, so that the machine's drift touches both alike.
    let timeBounded = DropWorker(name: "burst-bounded", capacity: .timeBounded(maximumWait: .milliseconds(20)), priority: .batch)
    let unbounded = DropWorker(name: "burst-unbounded", capacity: .unbounded, priority: .batch)
    var ratios: [Double] = []
    var milliseconds: [(Double, Double)] = []
    for _ in 0..<9 {
        let bounded = drainAfterBurst(on: timeBounded)
        let strict = drainAfterBurst(on: unbounded)
        ratios.append(bounded / strict)
        milliseconds.append((bounded / 1e6, strict / 1e6))
    }
    // The burst lasts about the bound on a fast machine, so a round either
    // pays a stand-aside or not: the ratio of the totals shows how often.
    let total = milliseconds.reduce(0) { $0 + $1.0 } / milliseconds.reduce(0) { $0 + $1.1 }
    let median = ratios.sorted()[4]
    let inline = timeBounded.statistics.destroyedInline
    print("drain after a burst: time-bounded (20 ms) \((total * 100).rounded() / 100)x unbounded over 9 rounds (median \((median * 100).rounded() / 100)x, worst \((ratios.max()! * 100).rounded() / 100)x; rounds in ms: \(milliseconds.map { "\(Int($0.0))/\(Int($0.1))" }.joined(separator: " ")); \(inline) destroyed inline)")
} else if arguments.dropFirst().first == "cost" || arguments.dropFirst().first == "producers" {
    // Medians of 9 rounds, each against its own inline release, for a strict
    // worker (the other core destroys while the producer hands over) and the
    // shared one (time-bounded, at idle priority).
    let producers = arguments.dropFirst().first == "producers" ? Int(arguments.dropFirst(2).first ?? "") ?? 4 : 1
    for (label, target) in [("unbounded", worker), ("shared", DropWorker.shared)] {
        let rounds = (0..<9).map { _ in producers == 1 ? producerCost(on: target) : producerCost(of: producers, on: target) }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        let inline = median(rounds.map(\.inline))
        let producer = median(rounds.map { $0.producer / $0.inline })
        let drained = median(rounds.map { $0.drained / $0.inline })
        func format(_ value: Double) -> String { "\((value * 100).rounded() / 100)" }
        let who = producers == 1 ? "" : ", \(producers) producers (the slowest)"
        let faults = producerFaults.withLock { faults in
            defer { faults = [0, 0] }
            return producers == 1 ? "" : "; producers' minor page faults over 9 rounds: inline \(faults[0]), handed over \(faults[1])"
        }
        print("\(label)\(who): inline release \(format(inline)) ns; producer \(format(producer))x, all destroyed \(format(drained))x (medians of 9 ratios)\(faults)")
    }
} else if arguments.dropFirst().first == "drain" {
    let clock = ContinuousClock()
    var perValue: [Double] = []
    for _ in 0..<15 {
        let gate = Gate()
        let semaphore = gate.semaphore
        worker.dispose(consume gate)
        let values = handOver(mode, to: worker)
        let start = clock.now
        semaphore.signal()
        worker.flush()
        let elapsed = clock.now - start
        let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
        perValue.append(nanoseconds / Double(values))
    }
    perValue.sort()
    print("worker drain: median \(Int(perValue[7].rounded())) ns per value (min \(Int(perValue[0].rounded())), max \(Int(perValue[14].rounded())))")
} else {
    _ = handOver(mode, to: worker)
    worker.flush()
    print(worker.statistics)
}
