import Synchronization
import _DeferDropShims

/// With a time bound: since when (coarse clock, ns) a worker has owed
/// progress, which tells a hand-off whether the worker is behind.
///
/// The worker owes progress from the moment a producer wakes it, or it takes
/// a batch, until it sleeps with nothing to do. Written by whoever starts or
/// ends the debt (the worker, the producer that woke it, a change of
/// capacity), read relaxed by every time-bounded hand-off: a reading a tick
/// old at worst sends one more value to the worker, or frees one more inline.
struct _OwedProgress: ~Copyable, Sendable {
    /// The coarse clock's reading when the debt began; 0 for none.
    private let since = Atomic<UInt64>(0)

    /// The debt begins `now` (the coarse clock's reading, ns).
    func begin(at now: UInt64 = _deferdrop_coarse_monotonic_ns()) {
        since.store(now, ordering: .relaxed)
    }

    /// Nothing is owed: the worker sleeps with nothing to do.
    func end() {
        since.store(0, ordering: .relaxed)
    }

    /// When the debt began, or `nil` when nothing is owed.
    @inline(__always)
    var beginning: UInt64? {
        let since = since.load(ordering: .relaxed)
        return since == 0 ? nil : since
    }

    /// Whether a debt that began at `beginning` is older than `maximumWait`
    /// at `now`: the worker is behind.
    @inline(__always)
    static func isOverdue(beginning: UInt64, now: UInt64, maximumWait: UInt64) -> Bool {
        now &- beginning > maximumWait
    }

    /// Whether the worker owes progress for longer than `maximumWait` now.
    func isOverdue(maximumWait: UInt64) -> Bool {
        guard let beginning else { return false }
        return Self.isOverdue(beginning: beginning, now: _deferdrop_coarse_monotonic_ns(), maximumWait: maximumWait)
    }
}
