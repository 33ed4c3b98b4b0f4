import Dispatch
import Foundation
import Synchronization

/// Runs `producers` new threads that each build `perProducer` small objects,
/// then, released together, hand them over one at a time through `mode`.
/// `started` runs once all are ready, `finished` once all are done. Returns
/// each producer's time for its hand-offs alone.
func runProducers(
    _ producers: Int,
    perProducer: Int,
    mode: Mode,
    started: () -> Void,
    finished: () -> Void
) -> [Duration] {
    let ready = DispatchGroup()
    let release = DispatchSemaphore(value: 0)
    let done = DispatchGroup()
    let times = Mutex([Duration](repeating: .zero, count: producers))
    for producer in 0..<producers {
        ready.enter()
        done.enter()
        Thread {
            var leaves = makeLeaves(perProducer)
            ready.leave()
            release.wait()
            let start = ContinuousClock.now
            while let leaf = leaves.popLast() {
                mode.handOver(consume leaf)
            }
            let time = ContinuousClock.now - start
            times.withLock { $0[producer] = time }
            done.leave()
        }.start()
    }
    ready.wait()
    started()
    for _ in 0..<producers { release.signal() }
    done.wait()
    finished()
    return times.withLock { $0 }
}
