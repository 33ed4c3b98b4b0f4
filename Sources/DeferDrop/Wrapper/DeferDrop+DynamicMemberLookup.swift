extension DeferDrop where Value: Copyable {
    /// Reads a member of the wrapped value: `wrapper.count` for `wrapper.value.count`.
    @inlinable
    public subscript<Member>(dynamicMember keyPath: KeyPath<Value, Member>) -> Member {
        _storage.value![keyPath: keyPath]
    }

    /// Reads and writes a member of the wrapped value in place, copy on write:
    /// `wrapper.name = "x"` for `wrapper.value.name = "x"`.
    @inlinable
    public subscript<Member>(dynamicMember keyPath: WritableKeyPath<Value, Member>) -> Member {
        get { _storage.value![keyPath: keyPath] }
        _modify { yield &value[keyPath: keyPath] }
    }
}
