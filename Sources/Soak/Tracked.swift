import DeferDrop

/// A value of the soak: records its own destruction in the ledger, may be
/// slow to destroy, and may hand a nested value over from its destructor.
final class Tracked {
    let origin: ValueOrigin
    let slowNanoseconds: UInt64
    /// Handed to `disposer` from this value's destructor. A `var`, so that
    /// the destructor can move it out: a copy handed over would leave this
    /// property a reference of its own, released after the destructor.
    private var nested: Nested?
    let disposer: (any Disposer)?

    init(_ origin: ValueOrigin, slowNanoseconds: UInt64, nested: Nested?, disposer: (any Disposer)?) {
        self.origin = origin
        self.slowNanoseconds = slowNanoseconds
        self.nested = nested
        self.disposer = disposer
    }

    deinit {
        origin.producer.recordDestruction(origin.sequence, strict: origin.ledger.strict, ledger: origin.ledger)
        spin(nanoseconds: slowNanoseconds)
        if let nested = nested.take(), let disposer {
            disposer.dispose(nested)
        }
    }
}

/// A value handed over by another value's destructor.
final class Nested: Sendable {
    let origin: ValueOrigin

    init(_ origin: ValueOrigin) {
        self.origin = origin
    }

    deinit {
        origin.producer.recordNestedDestruction(origin.sequence, ledger: origin.ledger)
    }
}

/// Whose value it is, in that producer's sequence, and where it is recorded.
/// A struct, not a tuple: a fork child may destroy the value, and a tuple
/// type's metadata is made at run time under a lock the fork may have left held.
struct ValueOrigin: Sendable {
    let producer: ProducerLedger
    let ledger: Ledger
    let sequence: Int
}
