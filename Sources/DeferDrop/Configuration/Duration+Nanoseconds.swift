extension Duration {
    /// Whole nanoseconds: 0 when negative, at most 2⁶², which callers take as
    /// for ever and which leaves room to add it to a clock reading.
    var _nanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0, attoseconds >= 0 else { return 0 }
        let largest: UInt64 = 1 << 62
        guard seconds < largest / 1_000_000_000 else { return largest }
        return UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
    }
}
