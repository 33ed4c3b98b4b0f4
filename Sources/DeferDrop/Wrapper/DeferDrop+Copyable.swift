extension DeferDrop where Value: Copyable {
    // Declared again for copyable values because Swift 6.3 crashes compiling a
    // key path (`\.value`) in another module to the unconstrained declaration.

    /// The wrapped value, borrowed to read and modified in place, copy on
    /// write. For a value that is not `Sendable`, assigning destroys the old one
    /// on the assigning thread; ``DeferDrop/replace(with:)`` hands it over instead.
    @inlinable
    public var value: Value {
        _read { yield _value }
        _modify { yield &_value }
    }
}

extension DeferDrop where Value: Copyable & Sendable {
    /// The wrapped value, copy on write. Assigning hands the old value to the
    /// disposer, as ``DeferDrop/replace(with:)`` does (only for `Sendable`
    /// values, since a setter cannot take its value `sending`); what an
    /// in-place modification removes is destroyed on the calling thread.
    @inlinable
    public var value: Value {
        _read { yield _value }
        set { _replace(with: newValue) }
        _modify { yield &_value }
    }
}
