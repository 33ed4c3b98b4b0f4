extension DeferDrop: Encodable where Value: Encodable {
    /// Encodes the wrapped value alone, in a single-value container, so
    /// `DeferDrop([1, 2])` is `[1,2]` in JSON. The disposer is not encoded.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

extension DeferDrop: Decodable where Value: Decodable {
    /// Decodes a value encoded alone (see ``encode(to:)``) and wraps it for
    /// ``DropWorker/shared``. For another worker, decode the value and wrap it.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        // A decoded value is new and unshared; the compiler cannot tell.
        self.init(_Transfer(value: try container.decode(Value.self)).value)
    }
}
