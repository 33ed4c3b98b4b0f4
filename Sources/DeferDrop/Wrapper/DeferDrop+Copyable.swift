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
    ///
    /// Assigning a new value here, for a value that is not `Sendable`,
    /// replaces it in place and destroys the old one on the assigning thread;
    /// ``DeferDrop/replace(with:)`` hands it to the disposer instead.
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
    /// one where it is assigned: write ``DeferDrop/replace(with:)`` there.
    ///
    /// Modifying the value in place (`wrapper.value.append(x)`) goes through
    /// `_modify`, which defers nothing: what the modification removes is
    /// destroyed on the calling thread.
    ///
    /// Copies of the wrapper that shared the old value keep it; it is
    /// deferred when the last of them ends.
    @inlinable
    public var value: Value {
        _read { yield _value }
        set { _replace(with: newValue) }
        _modify { yield &_value }
    }
}
