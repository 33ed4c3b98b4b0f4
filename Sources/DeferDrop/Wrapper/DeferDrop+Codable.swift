extension DeferDrop: Encodable where Value: Encodable {
    /// Encodes the wrapped value as if it stood alone, like the Rust crate's
    /// transparent `serde` support: `DeferDrop([1, 2])` encodes as `[1,2]` in
    /// JSON. The disposer is not encoded.
    ///
    /// The value goes through a single-value container, so an encoder's
    /// strategies for it (a `JSONEncoder`'s date strategy, say) still apply.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

extension DeferDrop: Decodable where Value: Decodable {
    /// Decodes a value encoded as it stands alone (see ``encode(to:)``) and
    /// wraps it for the global worker, ``DropWorker/shared``.
    ///
    /// To wrap a decoded value for another worker, decode the value itself
    /// and wrap it: `DeferDrop(try decoder.decode(Table.self, from: data), on: worker)`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        // A decoder builds a new value that nothing else refers to yet; the
        // compiler cannot tell, since the container it came from is the
        // caller's.
        self.init(_fresh: try container.decode(Value.self))
    }
}
