import DeferDrop

// Timing a drop is subtler than it looks. `_ = consume value` ends the binding
// but the compiler may destroy the value later, after the clock is read; a
// closure would capture the value and keep it alive. So the value is handed to
// a function that owns it and is kept opaque to the optimiser: its value is
// destroyed before it returns, and the call sits between the two clock reads.

/// How long dropping `value` takes on this thread.
func timeDropping<Value: ~Copyable>(_ value: consuming Value) -> Duration {
    let start = ContinuousClock.now
    destroy(value)
    return ContinuousClock.now - start
}

/// Destroys `value` before returning.
@inline(never) @_optimize(none)
func destroy<Value: ~Copyable>(_ value: consuming Value) {}

/// How long the global worker still needs to finish what it was given.
func timeFlush() -> Duration {
    let start = ContinuousClock.now
    DropWorker.shared.flush()
    return ContinuousClock.now - start
}

/// A duration in the unit that suits it, with one decimal, like Rust's `{:?}`: `µs` below a millisecond, `ms` below a second.
func format(_ duration: Duration) -> String {
    let nanoseconds = Double(duration.components.seconds) * 1e9 + Double(duration.components.attoseconds) / 1e9
    switch nanoseconds {
    case ..<1e3: return "\(Int(nanoseconds))ns"
    case ..<1e6: return rounded(nanoseconds / 1e3) + "µs"
    case ..<1e9: return rounded(nanoseconds / 1e6) + "ms"
    default: return rounded(nanoseconds / 1e9) + "s"
    }
}

/// `part / whole` as "1/N", or "N×" when the part is the larger.
func ratio(_ part: Duration, _ whole: Duration) -> String {
    let ratio = whole / part
    return ratio >= 1 ? "1/\(Int(ratio.rounded()))" : rounded(1 / ratio) + "×"
}

/// `value` with at most one decimal.
func rounded(_ value: Double) -> String {
    let scaled = (value * 10).rounded() / 10
    return scaled == scaled.rounded() ? "\(Int(scaled))" : "\(scaled)"
}
