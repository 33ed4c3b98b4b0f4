#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Runs `body(index)` on `count` new threads, released together once every
/// thread is ready, and returns when all have finished. Each thread's `body`
/// returns how long its timed part took.
func onProducerThreads(_ count: Int, _ body: @escaping @Sendable (_ index: Int, _ start: @Sendable () -> Void) -> Duration) -> [Duration] {
    let gate = StartGate(threads: count)
    let results = Mutex([Duration](repeating: .zero, count: count))
    var threads: [pthread_t] = []
    for index in 0..<count {
        let context = Unmanaged.passRetained(ProducerContext { let time = body(index, gate.wait); results.withLock { $0[index] = time } }).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { raw in
            Unmanaged<ProducerContext>.fromOpaque(raw!).takeRetainedValue().body()
            return nil
        }, context)
        precondition(status == 0, "pthread_create failed: \(status)")
        threads.append(thread)
    }
    for thread in threads {
        pthread_join(thread, nil)
    }
    return results.withLock { $0 }
}

private final class ProducerContext: Sendable {
    let body: @Sendable () -> Void
    init(body: @escaping @Sendable () -> Void) { self.body = body }
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
