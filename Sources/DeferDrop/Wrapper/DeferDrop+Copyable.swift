// The conformance itself, `DeferDrop: Copyable where Value: Copyable`, is in
// DeferDrop.swift: Swift requires it in the type's own file.

extension DeferDrop where Value: Copyable {
    /// The wrapped value, read in place and, on a `var`, modified in place,
    /// copy on write: the same as the unconstrained `value`.
    ///
    /// Why it is declared twice: Swift 6.3 crashes while compiling a key path
    /// (`wrappers.map(\.value)`) in another module to a property declared for
    /// possibly noncopyable values. Key paths need a copyable wrapper anyway,
    /// and this declaration, which Swift prefers wherever `Value` is known to
    /// be copyable, compiles.
    @inlinable
    public var value: Value {
        _read { yield _value }
        _modify { yield &_value }
    }
}

extension DeferDrop where Value: Copyable & Sendable {
    /// The wrapped value, read in place and modified in place, copy on
    /// write, as the unconstrained `value`; and assigned: `wrapper.value =
    /// newValue` hands the old value to the wrapper's disposer, as dropping
    /// the wrapper would, instead of freeing it on the assigning thread.
    ///
    /// Why `Sendable`: the old value leaves for the worker's thread, and a
    /// setter cannot take its new value `sending`, so Swift cannot check that
    /// the caller keeps no reference into it. For a value that is not
    /// `Sendable`, assignment replaces the value in place and frees the old
    /// one where it is assigned; assign a new wrapper instead
    /// (`wrapper = DeferDrop(newValue)`), which defers the old one.
    ///
    /// Copies of the wrapper that shared the old value keep it; it is
    /// deferred when the last of them ends.
    @inlinable
    public var value: Value {
        _read { yield _value }
        set {
            if isKnownUniquelyReferenced(&_storage) {
                // Moved, never copied: a copy left here would be released
                // after the hand-off, on this thread, perhaps as the last.
                let old = _storage.value.take()!
                _storage.value = newValue
                _storage._handOver(_Transfer(value: consume old))
            } else {
                _storage = _DeferDropStorage(newValue, disposer: _storage.disposer)
            }
        }
        _modify { yield &_value }
    }
}
