import DeferDrop
import ShardedDrop

/// A way of freeing the producers' values: inline, one worker or the pool,
/// under one capacity.
struct Mode: Sendable {
    enum Kind: Sendable {
        case inline
        case worker
        /// One worker, through `orderedAcrossThreads`: happens-before order
        /// across threads, one lock per hand-off.
        case orderedWorker
        case pool
    }

    let name: String
    let kind: Kind
    let capacity: DropCapacity

    /// The count bound of the bounded modes.
    static let bound = 65_536

    static let all: [Mode] = [
        Mode(name: "inline", kind: .inline, capacity: .unbounded),
        Mode(name: "worker", kind: .worker, capacity: .unbounded),
        Mode(name: "worker-server", kind: .worker, capacity: .server),
        Mode(name: "worker-block", kind: .worker, capacity: .bounded(bound, whenFull: .block)),
        Mode(name: "worker-inline", kind: .worker, capacity: .bounded(bound, whenFull: .destroyInline)),
        Mode(name: "worker-ordered", kind: .orderedWorker, capacity: .unbounded),
        Mode(name: "pool", kind: .pool, capacity: .unbounded),
        Mode(name: "pool-server", kind: .pool, capacity: .server),
        Mode(name: "pool-block", kind: .pool, capacity: .bounded(bound, whenFull: .block)),
        Mode(name: "pool-inline", kind: .pool, capacity: .bounded(bound, whenFull: .destroyInline)),
    ]

    /// A fresh freer for one measurement: a new worker or pool, so that no
    /// measurement inherits another's queue, threads or statistics.
    func makeFreer() -> Freer {
        switch kind {
        case .inline: .inline
        case .worker: .worker(DropWorker(name: "scaling", capacity: capacity))
        case .orderedWorker: .worker(DropWorker(name: "scaling", capacity: capacity).orderedAcrossThreads)
        case .pool: .pool(ShardedDropPool(name: "scaling", capacity: capacity))
        }
    }
}

/// Where a producer's values go.
enum Freer: Sendable {
    case inline
    case worker(DropWorker)
    case pool(ShardedDropPool)

    @inline(__always)
    func free<Value: ~Copyable>(_ value: consuming sending Value) {
        switch self {
        case .inline: _ = consume value
        case .worker(let worker): worker.dispose(value)
        case .pool(let pool): pool.dispose(value)
        }
    }

    /// Waits until everything handed over is destroyed.
    func flush() {
        switch self {
        case .inline: break
        case .worker(let worker): worker.flush()
        case .pool(let pool): pool.flush()
        }
    }

    /// Values destroyed on their producers although handed over.
    var destroyedInline: UInt64 {
        switch self {
        case .inline: 0
        case .worker(let worker): worker.statistics.destroyedInline
        case .pool(let pool): pool.totalStatistics.destroyedInline
        }
    }

    /// Stops the worker's or the pool's threads.
    func shutdown() {
        switch self {
        case .inline: break
        case .worker(let worker): worker.shutdown()
        case .pool(let pool): pool.shutdown()
        }
    }
}
