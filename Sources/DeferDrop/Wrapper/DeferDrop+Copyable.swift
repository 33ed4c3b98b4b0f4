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
        _read { yield _storage.value! }
        _modify {
            _makeUnique()
            yield &_storage.value!
        }
    }
}
