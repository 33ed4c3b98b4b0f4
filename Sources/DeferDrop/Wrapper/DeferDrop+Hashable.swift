extension DeferDrop: Hashable where Value: Hashable {
    /// Hashes the wrapped value alone, so a wrapper hashes as its value does
    /// and equal wrappers hash equally whatever their disposers.
    @inlinable
    public func hash(into hasher: inout Hasher) {
        value.hash(into: &hasher)
    }
}
