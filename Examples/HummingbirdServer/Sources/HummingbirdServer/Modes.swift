import DeferDrop
import Dispatch
import ShardedDrop

/// How a request drops what it built: one route per mode, the same work in each.
enum Mode: String, CaseIterable, Sendable {
    /// Released at the end of the handler, on the request's thread: what
    /// plain Swift does.
    case inline
    /// `deferDrop(_:)`: handed to `DropWorker.shared`, the one global thread,
    /// with the server recipe, `.server` (bounded in time, 20 ms, at idle
    /// priority), set at startup.
    case shared
    /// `deferDrop(_:on:)` with the server's `ShardedDropPool`, made with
    /// `capacity: .server` (each shard bounded in time, 20 ms, at idle priority).
    case pool
    /// `DispatchQueue.global().async`, as a user might write it without DeferDrop.
    case dispatch
    /// A private worker with the package's default capacity, `.unbounded`, the
    /// Rust crate's strict promise: every value deferred, at `.batch` priority.
    case strict
    /// A private worker bounded in time: `--maximum-wait-ms` (20) and
    /// `--timed-priority` (idle) choose its settings.
    case timed
    /// A worker shut down at start: every value goes through the library's
    /// hand-off and is destroyed inline. Against `inline`, what the library's
    /// path costs when it defers nothing.
    case stopped

    /// Drops `value` the way this mode does. `value` is consumed: no copy of it
    /// outlives the call on the request's thread.
    func drop<Value: Sendable>(_ value: consuming Value, pool: ShardedDropPool, workers: Workers) {
        switch self {
        case .inline:
            _ = consume value
        case .shared:
            deferDrop(consume value)
        case .pool:
            deferDrop(consume value, on: pool)
        case .dispatch:
            let doomed = Doomed(consume value)
            DispatchQueue.global().async { doomed.release() }
        case .strict:
            deferDrop(consume value, on: workers.strict)
        case .timed:
            deferDrop(consume value, on: workers.timed)
        case .stopped:
            deferDrop(consume value, on: workers.stopped)
        }
    }
}

/// The server's private workers, one per mode that needs its own.
struct Workers: Sendable {
    let strict = DropWorker(name: "strict", capacity: .unbounded, priority: .batch)
    let timed: DropWorker
    let stopped = DropWorker(name: "stopped")

    init(options: Options) {
        timed = DropWorker(
            name: "timed", capacity: .timeBounded(maximumWait: .milliseconds(options.maximumWaitMilliseconds)),
            priority: options.timedPriority)
        stopped.shutdown()
    }
}

/// Holds a value until `release()`, so that the dispatch mode frees it on the
/// queue's thread, whatever order the closure and the handler finish in.
private final class Doomed<Value: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `value` is written once by `release()`, which runs
    // on the queue's one closure, after the handler has given the object up.
    private var value: Value?
    init(_ value: consuming Value) { self.value = value }
    func release() { value = nil }
}
