extension DeferDrop: Equatable where Value: Equatable {
    /// Whether the two wrapped values are equal. The disposers are not compared:
    /// two wrappers of equal values are equal whichever workers will destroy them.
    @inlinable
    public static func == (left: DeferDrop, right: DeferDrop) -> Bool {
        left.value == right.value
    }
}
