#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import DeferDrop
import ShardedDrop
import Synchronization

/// A way of freeing the producers' values: inline, one worker or the pool,
/// under one capacity.
struct Mode: Sendable {
    enum Kind: Sendable {
        case inline
        case worker
        /// One worker, through `orderedAcrossThreads`: happens-before order
        /// across threads, one lock per hand-off.
        case orderedWorker
        /// One worker whose thread is held up until the producers are
        /// done: the hand-off's own cost, without the worker's frees
        /// running beside it.
        case heldWorker
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
        Mode(name: "worker-held", kind: .heldWorker, capacity: .unbounded),
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
        case .heldWorker: Self.heldWorker(capacity: capacity)
        case .pool: .pool(ShardedDropPool(name: "scaling", capacity: capacity))
        }
    }

    /// A worker busy destroying a gate that holds its thread until `Freer.letGo()`.
    private static func heldWorker(capacity: DropCapacity) -> Freer {
        let worker = DropWorker(name: "scaling", capacity: capacity)
        let latch = Latch()
        worker.dispose(Gate(latch))
        // Until the worker has started destroying the gate: then it is held.
        while !latch.isHolding.load(ordering: .acquiring) { sched_yield() }
        return .heldWorker(worker, latch)
    }
}

/// Opened once, by `Freer.letGo()`.
final class Latch: Sendable {
    let isHolding = Atomic<Bool>(false)
    let isOpen = Atomic<Bool>(false)
}

/// A value whose destructor waits until its latch opens.
final class Gate: Sendable {
    let latch: Latch
    init(_ latch: Latch) { self.latch = latch }
    deinit {
        latch.isHolding.store(true, ordering: .releasing)
        while !latch.isOpen.load(ordering: .acquiring) { usleep(100) }
    }
}

/// Where a producer's values go.
enum Freer: Sendable {
    case inline
    case worker(DropWorker)
    case heldWorker(DropWorker, Latch)
    case pool(ShardedDropPool)

    @inline(__always)
    func free<Value: ~Copyable>(_ value: consuming sending Value) {
        switch self {
        case .inline: _ = consume value
        // One binding per case: a pattern shared by two cases copies the
        // worker, a retain and a release of it around every hand-off, on a
        // line every producer writes (not what a user's stored worker costs).
        case .worker(let worker): worker.dispose(value)
        case .heldWorker(let worker, _): worker.dispose(value)
        case .pool(let pool): pool.dispose(value)
        }
    }

    /// Lets a held worker go: called once the producers are done.
    func letGo() {
        if case .heldWorker(_, let latch) = self { latch.isOpen.store(true, ordering: .releasing) }
    }

    /// Waits until everything handed over is destroyed.
    func flush() {
        switch self {
        case .inline: break
        case .worker(let worker), .heldWorker(let worker, _): worker.flush()
        case .pool(let pool): pool.flush()
        }
    }

    /// Values destroyed on their producers although handed over.
    var destroyedInline: UInt64 {
        switch self {
        case .inline: 0
        case .worker(let worker), .heldWorker(let worker, _): worker.statistics.destroyedInline
        case .pool(let pool): pool.totalStatistics.destroyedInline
        }
    }

    /// Stops the worker's or the pool's threads.
    func shutdown() {
        switch self {
        case .inline: break
        case .worker(let worker), .heldWorker(let worker, _): worker.shutdown()
        case .pool(let pool): pool.shutdown()
        }
    }
}
