extension DeferDrop: Equatable where Value: Equatable {
    /// Whether the wrapped values are equal; the disposers are not compared.
    @inlinable
    public static func == (left: DeferDrop, right: DeferDrop) -> Bool {
        left.value == right.value
    }
}
