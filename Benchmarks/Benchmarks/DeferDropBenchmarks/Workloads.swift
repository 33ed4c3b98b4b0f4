import Benchmark
import Dispatch
import Foundation

/// A small heap object: one allocation to free.
final class Leaf: Sendable {
    let value: Int
    init(_ value: Int) { self.value = value }
}

/// The crate's demo: 1000 × 1000 heap-allocated strings (longer than Swift's
/// 15-byte inline limit, so each is an allocation, as in Rust).
func makeCrateDemo() -> [[String]] {
    (0..<1000).map { _ in (0..<1000).map { _ in String(decoding: Array(longString.utf8), as: UTF8.self) } }
}

private let longString = "Hello, World, from the heap!"

/// The article's workload: a million keys, each mapped to a one-element array.
func makeArticleMap() -> [Int: [Int]] {
    var map: [Int: [Int]] = [:]
    map.reserveCapacity(1_000_000)
    for key in 0..<1_000_000 {
        map[key] = [key]
    }
    return map
}

/// `count` small objects.
func makeLeaves(_ count: Int) -> [Leaf] {
    (0..<count).map(Leaf.init)
}

/// Values built before the timed hand-offs start, so that the producer can hand
/// them over faster than the worker destroys them: each hand-off then finds the
/// worker still destroying the one before.
final class Backlog<Value: Sendable>: Sendable {
    private let lock = NSLock()
    // Guarded by `lock`; `nonisolated(unsafe)` because NSLock is not a Mutex the
    // compiler can see through.
    nonisolated(unsafe) private var values: [Value] = []

    func fill(_ count: Int, _ make: () -> Value) {
        let made = (0..<count).map { _ in make() }
        lock.withLock { values = made }
    }

    /// The next value, moved out: the backlog keeps no reference to it.
    func next() -> Value {
        lock.withLock { values.popLast()! }
    }
}

/// About `microseconds` of work of the producer's own, between hand-offs.
@inline(never)
func producerWork(microseconds: Int) {
    let end = ContinuousClock.now + .microseconds(microseconds)
    var sum = 0
    while ContinuousClock.now < end {
        for index in 0..<100 { sum &+= index &* 31 }
    }
    blackHole(sum)
}

/// Threads of normal priority that spin until stopped: a machine whose other
/// cores are busy.
final class Spinners: Sendable {
    private let lock = NSLock()
    nonisolated(unsafe) private var running = false  // guarded by `lock`
    private let stopped = DispatchGroup()

    func start(_ count: Int) {
        lock.withLock { running = true }
        for _ in 0..<count {
            stopped.enter()
            Thread {
                var sum = 0
                while self.lock.withLock({ self.running }) {
                    for index in 0..<10_000 { sum &+= index }
                }
                blackHole(sum)
                self.stopped.leave()
            }.start()
        }
    }

    func stop() {
        lock.withLock { running = false }
        stopped.wait()
    }
}
