import _DeferDropShims

/// The scheduling class a worker's thread runs in, relative to your threads.
///
/// Freeing garbage is never urgent. What hurts producers is a worker that
/// preempts them on wake-up, or that takes CPU they need. A normal thread woken
/// by a hand-off is often placed on the producer's own core and runs at once,
/// preempting the producer until the next scheduler tick — the Rust crate's
/// millisecond tail on a busy machine. On Linux, `SCHED_BATCH` and
/// `SCHED_IDLE` threads never preempt a normal thread when they wake; they
/// wait for a free core or the end of the running thread's slice.
///
/// A worker made without a priority runs at its capacity's
/// ``DropCapacity/defaultPriority``: ``idle`` for a time-bounded capacity
/// (``DropCapacity/server``), whose producers free inline while it is behind,
/// so that it takes only spare CPU; ``batch`` for ``DropCapacity/unbounded``
/// (the default) and count bounds, which must get CPU whatever the load.
///
/// Each platform maps a priority to its own classes
/// (``DropPriority/schedulingClass``), all fair (no real-time policy), so the
/// worker always makes progress and a producer blocked on a full worker
/// (``OverflowPolicy/block``) never waits forever:
///
/// | priority | Linux policy | share of a busy core (Linux) | Apple platforms' QoS class |
/// |---|---|---|---|
/// | ``normal`` | `SCHED_OTHER` | equal (weight 1024 at nice 0) | default |
/// | ``batch`` | `SCHED_BATCH` | equal (weight 1024 at nice 0) | utility |
/// | ``idle`` | `SCHED_IDLE` | what others leave (weight 3) | background |
///
/// On Apple platforms the utility and background classes also run on
/// efficiency cores and at lower I/O priority where the device has them.
/// Built with the POSIX-only layer, the package sets no class: every worker
/// runs as the thread that started it (``DropSchedulingClass/unchanged``).
/// ``DropWorker/schedulingClass`` reports the class a worker's thread is in.
/// A change of class keeps the thread's nice value.
///
/// Docs/Benchmarks.md measures each on the hand-off of large structures.
///
/// On Linux, lowering a thread's class is always allowed. Raising it back
/// from ``idle`` needs `CAP_SYS_NICE` (or an `RLIMIT_NICE` of 20): without it
/// the thread stays at ``idle``. ``batch`` and ``normal`` switch freely
/// either way.
public enum DropPriority: Sendable, Hashable {
    /// `SCHED_OTHER` on Linux, the default QoS class on Apple platforms: like
    /// any thread, the Rust crate's behaviour.
    case normal
    /// `SCHED_BATCH` on Linux: a fair share of the CPU, and no
    /// preemption of the producer that wakes it. The utility QoS class on
    /// Apple platforms. The default for ``DropCapacity/unbounded`` and count
    /// bounds, and so for ``DropWorker/shared``.
    case batch
    /// `SCHED_IDLE` on Linux: runs on what other threads leave, with a tiny
    /// guaranteed share. The background QoS class on Apple platforms. For
    /// garbage that may wait as long as the machine is busy. The default for
    /// ``DropCapacity/timeBounded(maximumWait:)``.
    ///
    /// The wait includes the process's end: every thread must run once to
    /// die, so on a saturated machine a process with an idle worker can take
    /// seconds to be reaped after its last line of code has run.
    case idle
}

extension DropPriority {
    /// The class this platform gives a worker's thread at this priority.
    ///
    /// What the worker asks for; ``DropWorker/schedulingClass`` says what it
    /// got, which differs where the system refuses (raising a Linux thread
    /// out of `SCHED_IDLE` needs a privilege).
    public var schedulingClass: DropSchedulingClass {
        DropSchedulingClass(_layerClass: _deferdrop_scheduling_class_for(_request))
    }

    /// The priority's number for the platform layer.
    var _request: Int32 {
        switch self {
        case .normal: Int32(DEFERDROP_SCHED_NORMAL)
        case .batch: Int32(DEFERDROP_SCHED_BATCH)
        case .idle: Int32(DEFERDROP_SCHED_IDLE)
        }
    }
}
