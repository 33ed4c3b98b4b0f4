extension DeferDrop: CustomStringConvertible {
    /// The wrapped value's description: `[1, 2]` for `DeferDrop([1, 2])`.
    public var description: String {
        String(describing: value)
    }
}

extension DeferDrop: CustomDebugStringConvertible {
    /// The wrapped value's debug description in the wrapper's: `DeferDrop(["a", "b"])`.
    public var debugDescription: String {
        "DeferDrop(" + String(reflecting: value) + ")"
    }
}
