import _DeferDropShims

/// The scheduling class a worker's thread runs in, relative to your threads.
///
/// Every priority maps to a fair class, never a real-time one, so a worker
/// always makes progress and a producer blocked on a full worker never waits
/// for ever. A worker made without a priority takes its capacity's
/// ``DropCapacity/defaultPriority``. The POSIX-only platform layer sets no
/// class (``DropSchedulingClass/unchanged``).
///
/// On Linux, raising a thread out of ``idle`` needs `CAP_SYS_NICE` (or an
/// `RLIMIT_NICE` of 20): without it the thread stays at ``idle``.
public enum DropPriority: Sendable, Hashable {
    /// `SCHED_OTHER` on Linux, the default QoS class on Apple platforms: like any thread.
    case normal
    /// `SCHED_BATCH` on Linux, utility QoS on Apple platforms: a fair share of
    /// the CPU, without preempting the producer that wakes it. The default for
    /// ``DropCapacity/unbounded`` and count bounds, so for ``DropWorker/shared``.
    case batch
    /// `SCHED_IDLE` on Linux, background QoS on Apple platforms: runs on what
    /// other threads leave. The default for
    /// ``DropCapacity/timeBounded(maximumWait:)``. On a saturated machine such a
    /// worker can delay the process's exit, since every thread must run to end.
    case idle
}

extension DropPriority {
    /// The class this platform gives a worker's thread at this priority: what
    /// it asks for. ``DropWorker/schedulingClass`` says what it got.
    public var schedulingClass: DropSchedulingClass {
        DropSchedulingClass(_layerClass: _deferdrop_scheduling_class_for(_request))
    }

    var _request: Int32 {
        switch self {
        case .normal: Int32(DEFERDROP_SCHED_NORMAL)
        case .batch: Int32(DEFERDROP_SCHED_BATCH)
        case .idle: Int32(DEFERDROP_SCHED_IDLE)
        }
    }
}
