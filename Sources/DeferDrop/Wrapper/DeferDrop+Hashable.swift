extension DeferDrop: Hashable where Value: Hashable {
    /// Hashes the wrapped value alone, not the disposer.
    @inlinable
    public func hash(into hasher: inout Hasher) {
        value.hash(into: &hasher)
    }
}
