extension DeferDrop: Comparable where Value: Comparable {
    /// Orders wrappers by their values, as the Rust crate's derived `Ord` does.
    @inlinable
    public static func < (left: DeferDrop, right: DeferDrop) -> Bool {
        left.value < right.value
    }
}
