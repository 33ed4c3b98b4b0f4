/// A value travelling with the callback to run once it is destroyed.
///
/// The box is what the disposer receives, as a class instance: releasing it
/// runs this deinit, which destroys the value first and then calls back, on
/// whichever thread released it — the worker's, or the producer's if the
/// value was destroyed inline.
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
        // Stored properties would be destroyed only after this body: destroy
        // the value explicitly, so the callback runs after its destructor.
        _ = value.take()
        whenDestroyed()
    }
}
