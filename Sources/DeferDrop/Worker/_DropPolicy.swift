/// A worker's capacity as its hand-off reads it: a count bound, a time bound in
/// nanoseconds, or none. It is one word, written only under the queue's lock and
/// read by producers with a relaxed load: a producer without the lock may act on
/// the policy before a change, which `_DropQueue.setCapacity` allows for.
enum _DropPolicy: Sendable, Equatable {
    case unbounded
    case bounded(count: UInt64, whenFull: OverflowPolicy)
    case timeBounded(maximumWait: UInt64)

    /// The policy of `capacity`, after checking it; `owner` names the
    /// initializer or property in the message.
    init(_ capacity: DropCapacity, owner: String) {
        if let bound = capacity._checkedBound(for: owner) {
            self = .bounded(count: min(bound.count, Self.largest), whenFull: bound.policy)
        } else if let maximumWait = capacity._checkedMaximumWait(for: owner) {
            self = .timeBounded(maximumWait: min(maximumWait, Self.largest))
        } else {
            self = .unbounded
        }
    }

    /// The count bound and what a full queue does, or `nil`.
    var bound: (count: UInt64, policy: OverflowPolicy)? {
        guard case .bounded(let count, let policy) = self else { return nil }
        return (count, policy)
    }

    /// The time bound in nanoseconds, or `nil`.
    var maximumWait: UInt64? {
        guard case .timeBounded(let maximumWait) = self else { return nil }
        return maximumWait
    }

    /// Whether a producer's admission may go without the lock: a count bound needs
    /// the exact number pending, which only the lock has.
    var admitsWithoutLock: Bool {
        if case .bounded = self { false } else { true }
    }

    // The word: the kind in the top two bits, the count or nanoseconds in the rest.

    private static let largest: UInt64 = (1 << 62) - 1

    var word: UInt64 {
        switch self {
        case .unbounded: 0
        case .timeBounded(let maximumWait): 1 << 62 | maximumWait
        case .bounded(let count, .destroyInline): 2 << 62 | count
        case .bounded(let count, .block): 3 << 62 | count
        }
    }

    init(word: UInt64) {
        let value = word & Self.largest
        switch word >> 62 {
        case 0: self = .unbounded
        case 1: self = .timeBounded(maximumWait: value)
        case 2: self = .bounded(count: value, whenFull: .destroyInline)
        default: self = .bounded(count: value, whenFull: .block)
        }
    }
}
