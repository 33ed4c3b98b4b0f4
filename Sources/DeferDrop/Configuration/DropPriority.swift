import _DeferDropShims

/// The scheduling class a worker's thread runs in, relative to your threads.
///
/// Freeing garbage is never urgent. What hurts producers is a worker that
/// preempts them on wake-up, or that takes CPU they need. A normal thread woken
/// by a hand-off is often placed on the producer's own core and runs at once,
/// preempting the producer until the next scheduler tick — the Rust crate's
/// millisecond tail on a busy machine. `SCHED_BATCH` and `SCHED_IDLE` threads
/// never preempt a normal thread when they wake; they wait for a free core or
/// the end of the running thread's slice.
///
/// A worker made without a priority runs at its capacity's
/// ``DropCapacity/defaultPriority``: ``idle`` for the default, time-bounded
/// capacity, whose producers free inline while it is behind, so that it takes
/// only spare CPU; ``batch`` for ``DropCapacity/unbounded`` and count bounds,
/// which must get CPU whatever the load.
///
/// All three are fair classes (no real-time policy), so the worker always
/// makes progress and a producer blocked on a full worker (``OverflowPolicy/block``)
/// never waits forever. They differ in share under full load:
///
/// | priority | Linux policy | share of a busy core | preempts a producer on wake-up |
/// |---|---|---|---|
/// | ``normal`` | `SCHED_OTHER`, nice 0 | equal (weight 1024) | yes |
/// | ``batch`` | `SCHED_BATCH`, nice 0 | equal (weight 1024) | no |
/// | ``idle`` | `SCHED_IDLE` | about 0.3 % (weight 3) | no |
///
/// Docs/Benchmarks.md measures each on the hand-off of large structures.
///
/// Lowering a thread's class is always allowed. Raising it back from ``idle``
/// needs `CAP_SYS_NICE` (or an `RLIMIT_NICE` of 20): without it the thread
/// stays at ``idle``. ``batch`` and ``normal`` switch freely either way.
public enum DropPriority: Sendable, Hashable {
    /// `SCHED_OTHER` at nice 0, like any thread: the Rust crate's behaviour.
    case normal
    /// `SCHED_BATCH` at nice 0: a fair share of the CPU, and no preemption of
    /// the producer that wakes it. The default for ``DropCapacity/unbounded``
    /// and count bounds.
    case batch
    /// `SCHED_IDLE`: runs on what other threads leave, with a tiny guaranteed
    /// share. For garbage that may wait as long as the machine is busy. The
    /// default for ``DropCapacity/timeBounded(maximumWait:)``, and so for
    /// ``DropWorker/shared``.
    ///
    /// The wait includes the process's end: every thread must run once to
    /// die, so on a saturated machine a process with an idle worker can take
    /// seconds to be reaped after its last line of code has run.
    case idle
}

extension DropPriority {
    /// The class's number for the C shim.
    var _schedulingClass: Int32 {
        switch self {
        case .normal: Int32(DEFERDROP_SCHED_NORMAL)
        case .batch: Int32(DEFERDROP_SCHED_BATCH)
        case .idle: Int32(DEFERDROP_SCHED_IDLE)
        }
    }
}
