import DeferDrop
import Synchronization

/// Runs `body(index)` on `count` new threads, released together once every
/// thread is ready, and returns when all have finished. Each thread's `body`
/// returns how long its timed part took.
func onProducerThreads(_ count: Int, _ body: @escaping @Sendable (_ index: Int, _ start: @Sendable () -> Void) -> Duration) -> [Duration] {
    let gate = StartGate(threads: count)
    let results = Mutex([Duration](repeating: .zero, count: count))
    let threads = (0..<count).map { index in
        _Thread {
            let time = body(index, gate.wait)
            results.withLock { $0[index] = time }
        }
    }
    for thread in threads { thread.join() }
    return results.withLock { $0 }
}

/// A barrier: the producers start at the same moment, after each has built
/// its values. Those that are ready yield the CPU until the last arrives.
private final class StartGate: Sendable {
    private let threads: Int
    private let arrived = Atomic<Int>(0)

    init(threads: Int) {
        self.threads = threads
    }

    func wait() {
        arrived.add(1, ordering: .acquiringAndReleasing)
        while arrived.load(ordering: .acquiring) < threads { sched_yield() }
    }
}
