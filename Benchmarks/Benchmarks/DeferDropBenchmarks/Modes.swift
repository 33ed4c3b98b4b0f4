import DeferDrop
import Dispatch
import Foundation
import ShardedDrop

/// The ways a value can be dropped: the foreground drop, this package's two
/// modes, and what a Swift user would write instead.
enum Mode: String, CaseIterable, Sendable {
    /// The baseline: the producer destroys the value itself.
    case foreground = "foreground"
    /// The package's global worker, with its defaults: `.unbounded` (the
    /// crate's promise: every value deferred) at `.batch` priority.
    case sharedWorker = "DropWorker.shared"
    /// A sharded pool, one shard per processor, with the defaults.
    case pool = "ShardedDropPool"
    /// `DispatchQueue.global().async { _ = value }`.
    case dispatch = "DispatchQueue.global"
    /// `Task.detached { _ = value }`.
    case task = "Task.detached"
    /// A new `Thread` per drop, like the article's `thread::spawn`.
    case thread = "Thread per drop"
    /// A private worker bounded in time, `.server` (20 ms), at `.idle`: the
    /// policy for a saturated server, which gives frees back to the producers
    /// while the worker is behind.
    case serverWorker = "DropWorker, .server"
    /// A sharded pool bounded in time, `.server`, one shard per processor.
    case serverPool = "ShardedDropPool, .server"

    /// The modes of workloads 1 to 6.
    static let original: [Mode] = [.foreground, .sharedWorker, .pool, .dispatch, .task, .thread]

    /// The modes that fit a stream of a million hand-offs: a thread per drop
    /// would start a million threads.
    static let streaming: [Mode] = [.foreground, .sharedWorker, .pool, .dispatch, .task]

    /// The modes of the saturated workload: dropping inline, the shared worker
    /// and a pool with their defaults (strict) and bounded in time, and Dispatch.
    static let saturated: [Mode] = [.foreground, .sharedWorker, .pool, .serverWorker, .serverPool, .dispatch]
}

/// The worker of `Mode.serverWorker`.
let timeBoundedWorker = DropWorker(name: "bench-server", capacity: .server)

/// The pool of `Mode.serverPool`.
let timeBoundedPool = ShardedDropPool(capacity: .server)

/// The pool every pool benchmark uses: one shard per processor.
let sharedPool = ShardedDropPool()

/// Counts the hand-offs of the alternatives that have not finished yet.
let alternativesInFlight = DispatchGroup()

/// Carries a value into a closure that destroys it there and then signals.
///
/// The alternatives need a completion signal to be timed at all, and
/// `{ _ = value; group.leave() }` would signal before the capture is released.
/// Clearing an optional destroys the value before `leave()`.
final class Parcel<Value>: @unchecked Sendable {
    // @unchecked Sendable: the producer stores the value before the closure is
    // scheduled and never touches it again; the one consumer clears it. Dispatch,
    // Task and Thread.start order the store before the clear.
    private var value: Value?

    init(_ value: consuming Value) {
        self.value = value
    }

    func destroy() {
        value = nil
        alternativesInFlight.leave()
    }
}

extension Mode {
    /// Hands `value` over, or destroys it here in the foreground mode.
    @inline(__always)
    func handOver<Value>(_ value: consuming sending Value) {
        switch self {
        case .foreground:
            destroyHere(value)
        case .sharedWorker:
            // What users write for the shared worker (and cheaper than
            // `DropWorker.shared.dispose(_:)`, which retains the worker).
            deferDrop(value)
        case .pool:
            sharedPool.dispose(value)
        case .serverWorker:
            timeBoundedWorker.dispose(value)
        case .serverPool:
            timeBoundedPool.dispose(value)
        case .dispatch:
            let parcel = Parcel(value)
            alternativesInFlight.enter()
            DispatchQueue.global().async { parcel.destroy() }
        case .task:
            let parcel = Parcel(value)
            alternativesInFlight.enter()
            Task.detached { parcel.destroy() }
        case .thread:
            let parcel = Parcel(value)
            alternativesInFlight.enter()
            Thread { parcel.destroy() }.start()
        }
    }

    /// Returns once everything handed over has been destroyed.
    func waitUntilDestroyed() {
        switch self {
        case .foreground: break
        case .sharedWorker: DropWorker.shared.flush()
        case .pool: sharedPool.flush()
        case .serverWorker: timeBoundedWorker.flush()
        case .serverPool: timeBoundedPool.flush()
        case .dispatch, .task, .thread: alternativesInFlight.wait()
        }
    }

    /// Bytes freed so far by whoever destroys this mode's values, where
    /// jemalloc can attribute them: the workers' threads, or the producer's own
    /// thread in the foreground. `nil` for the alternatives, whose frees happen
    /// on threads of Dispatch's or the runtime's choosing.
    var reclaimedBytes: UInt64? {
        switch self {
        case .foreground: AllocatorStatistics.bytesFreedByCurrentThread
        case .sharedWorker: DropWorker.shared.statistics.reclaimedBytes
        case .pool: sharedPool.totalStatistics.reclaimedBytes
        case .serverWorker: timeBoundedWorker.statistics.reclaimedBytes
        case .serverPool: timeBoundedPool.totalStatistics.reclaimedBytes
        case .dispatch, .task, .thread: nil
        }
    }

    /// Values this mode's worker had its producers destroy inline so far; `nil`
    /// where there is no worker of ours.
    var destroyedInline: UInt64? {
        switch self {
        case .foreground: 0
        case .sharedWorker: DropWorker.shared.statistics.destroyedInline
        case .pool: sharedPool.totalStatistics.destroyedInline
        case .serverWorker: timeBoundedWorker.statistics.destroyedInline
        case .serverPool: timeBoundedPool.totalStatistics.destroyedInline
        case .dispatch, .task, .thread: nil
        }
    }
}

/// Destroys `value` before returning, opaque to the optimiser.
@inline(never) @_optimize(none)
func destroyHere<Value: ~Copyable>(_ value: consuming Value) {}
