import DeferDrop

/// A value of the soak: records its own destruction in the ledger, may be
/// slow to destroy, and may hand a nested value over from its destructor.
final class Tracked {
    let producer: ProducerLedger
    let ledger: Ledger
    let sequence: Int
    let slowNanoseconds: UInt64
    /// Handed to `disposer` from this value's destructor. A `var`, so that
    /// the destructor can move it out: a copy handed over would leave this
    /// property a reference of its own, released after the destructor.
    private var nested: Nested?
    let disposer: (any Disposer)?

    init(
        producer: ProducerLedger, ledger: Ledger, sequence: Int, slowNanoseconds: UInt64, nested: Nested?,
        disposer: (any Disposer)?
    ) {
        self.producer = producer
        self.ledger = ledger
        self.sequence = sequence
        self.slowNanoseconds = slowNanoseconds
        self.nested = nested
        self.disposer = disposer
    }

    deinit {
        producer.recordDestruction(sequence, strict: ledger.strict, ledger: ledger)
        spin(nanoseconds: slowNanoseconds)
        if let nested = nested.take(), let disposer {
            disposer.dispose(nested)
        }
    }
}

/// A value handed over by another value's destructor.
final class Nested: Sendable {
    /// Whose value it is, in that producer's sequence, and where it is recorded.
    let origin: (producer: ProducerLedger, sequence: Int, ledger: Ledger)

    init(producer: ProducerLedger, ledger: Ledger, sequence: Int) {
        origin = (producer, sequence, ledger)
    }

    deinit {
        origin.producer.recordNestedDestruction(origin.sequence, ledger: origin.ledger)
    }
}
