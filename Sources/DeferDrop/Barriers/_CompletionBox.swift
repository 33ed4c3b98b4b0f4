/// A value travelling with the callback to run once it is destroyed: the box's
/// deinit destroys the value, then calls back, on whichever thread releases it.
@usableFromInline
final class _CompletionBox<Value: ~Copyable>: _ValueBox {
    /// The first stored property: `_LastReferenceCheck` reads a held
    /// reference in place (`nil` is all zero bits there).
    @usableFromInline
    var value: Value?
    @usableFromInline
    let whenDestroyed: @Sendable () -> Void

    @inlinable
    init(_ value: consuming Value, whenDestroyed: @escaping @Sendable () -> Void) {
        self.value = consume value
        self.whenDestroyed = whenDestroyed
        super.init()
    }

    override var heldType: UnsafeRawPointer {
        unsafeBitCast(Value.self, to: UnsafeRawPointer.self)
    }

    deinit {
        // Stored properties die only after this body: destroy the value first, so
        // the callback runs after its destructor.
        _ = value.take()
        whenDestroyed()
    }
}
