import _DeferDropShims

/// A system scheduling class: what a ``DropPriority`` becomes on this platform.
public enum DropSchedulingClass: Sendable, Hashable, CustomStringConvertible {
    /// Linux's `SCHED_OTHER`.
    case linuxOther
    /// Linux's `SCHED_BATCH`.
    case linuxBatch
    /// Linux's `SCHED_IDLE`.
    case linuxIdle
    /// The default quality-of-service class of Apple platforms.
    case qosDefault
    /// The utility quality-of-service class of Apple platforms.
    case qosUtility
    /// The background quality-of-service class of Apple platforms.
    case qosBackground
    /// No class set: the POSIX-only platform layer leaves a worker's thread in
    /// the class of the thread that started it.
    case unchanged
    /// A class the package never sets, kept from the thread that started the
    /// worker's (a real-time policy, say).
    case other

    /// The class's name as the system spells it, such as `SCHED_BATCH`.
    public var description: String {
        switch self {
        case .linuxOther: "SCHED_OTHER"
        case .linuxBatch: "SCHED_BATCH"
        case .linuxIdle: "SCHED_IDLE"
        case .qosDefault: "QOS_CLASS_DEFAULT"
        case .qosUtility: "QOS_CLASS_UTILITY"
        case .qosBackground: "QOS_CLASS_BACKGROUND"
        case .unchanged: "unchanged"
        case .other: "another class"
        }
    }

    /// The class a `DEFERDROP_CLASS_` number of the platform layer names.
    package init(_layerClass number: Int32) {
        switch Int(number) {
        case Int(DEFERDROP_CLASS_UNCHANGED): self = .unchanged
        case Int(DEFERDROP_CLASS_LINUX_OTHER): self = .linuxOther
        case Int(DEFERDROP_CLASS_LINUX_BATCH): self = .linuxBatch
        case Int(DEFERDROP_CLASS_LINUX_IDLE): self = .linuxIdle
        case Int(DEFERDROP_CLASS_QOS_DEFAULT): self = .qosDefault
        case Int(DEFERDROP_CLASS_QOS_UTILITY): self = .qosUtility
        case Int(DEFERDROP_CLASS_QOS_BACKGROUND): self = .qosBackground
        default: self = .other
        }
    }
}
