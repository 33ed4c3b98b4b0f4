#if canImport(Glibc)
import Glibc
#endif
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

/// A `pthread_barrier_t`: the producers start at the same moment, after each
/// has built its values.
private final class StartGate: @unchecked Sendable {
    // @unchecked Sendable: the barrier is made to be shared between threads,
    // and lives at a fixed address until deinit, after every thread is joined.
    private let barrier = UnsafeMutablePointer<pthread_barrier_t>.allocate(capacity: 1)

    init(threads: Int) {
        pthread_barrier_init(barrier, nil, UInt32(threads))
    }

    deinit {
        pthread_barrier_destroy(barrier)
        barrier.deallocate()
    }

    func wait() {
        _ = pthread_barrier_wait(barrier)
    }
}
