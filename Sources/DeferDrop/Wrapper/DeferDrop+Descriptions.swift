extension DeferDrop: CustomStringConvertible {
    /// The wrapped value's description, as if it stood alone: `[1, 2]` for
    /// `DeferDrop([1, 2])`, so string interpolation shows the value.
    public var description: String {
        String(describing: value)
    }
}

extension DeferDrop: CustomDebugStringConvertible {
    /// The wrapped value's debug description, naming the wrapper, as the Rust
    /// crate's derived `Debug` does: `DeferDrop(["a", "b"])`.
    public var debugDescription: String {
        "DeferDrop(" + String(reflecting: value) + ")"
    }
}
