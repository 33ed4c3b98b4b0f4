/// Hands `value` to the global worker and calls `whenDestroyed` once it has
/// been destroyed.
///
/// The Rust crate answers "how do I know when it was dropped?" with "pair it
/// with a channel". Here the pairing is built in:
///
/// ```swift
/// deferDrop(consume snapshot) {
///     metrics.record("snapshot freed")
/// }
/// ```
///
/// `whenDestroyed` runs exactly once, right after the value's destructor
/// returns, on the thread that destroyed it: the worker's, before it moves on
/// to the next value (or the calling thread's, before this function returns,
/// if the worker has been shut down or is full under
/// ``OverflowPolicy/destroyInline``). Keep it short; it delays every value
/// queued behind this one. It may hand further values over, but must not call
/// the worker's `flush()`.
///
/// In `async` code, ``deferDropAndWait(_:)`` suspends until then instead.
@inlinable
public func deferDrop<Value: ~Copyable>(
    _ value: consuming sending Value, whenDestroyed: @escaping @Sendable () -> Void
) {
    DropWorker.shared.dispose(_CompletionBox(value, whenDestroyed: whenDestroyed))
}

/// Hands `value` to `disposer` and calls `whenDestroyed` once it has been
/// destroyed: see ``deferDrop(_:whenDestroyed:)``.
@inlinable
public func deferDrop<Value: ~Copyable>(
    _ value: consuming sending Value, on disposer: some Disposer,
    whenDestroyed: @escaping @Sendable () -> Void
) {
    disposer.dispose(_CompletionBox(value, whenDestroyed: whenDestroyed))
}

/// Hands `value` to the global worker and suspends until it has been destroyed.
///
/// The calling task waits; its thread does not. Use it where the memory must
/// be back before going on (before loading the next large model, say), while
/// the freeing itself still happens off this thread and off the cooperative
/// pool.
@inlinable
public func deferDropAndWait<Value: ~Copyable>(_ value: consuming sending Value) async {
    await deferDropAndWait(value, on: DropWorker.shared)
}

/// Hands `value` to `disposer` and suspends until it has been destroyed.
public func deferDropAndWait<Value: ~Copyable>(
    _ value: consuming sending Value, on disposer: some Disposer
) async {
    // The box is created here, then moved into the closure's hand-off: the
    // continuation cannot exist before the box, and the box must not be
    // copied (a copy left here could be the last release). So the callback
    // reads the continuation from a slot filled before the hand-off.
    let slot = _Lock<CheckedContinuation<Void, Never>?>(nil)
    var box: _CompletionBox<Value>? = _CompletionBox(value, whenDestroyed: {
        slot.withLock { $0.take() }!.resume()
    })
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
        slot.withLock { $0 = continuation }
        // The box was made from a `sending` value and is moved, never shared.
        let transfer = _Transfer(value: box.take()!)
        disposer.dispose(transfer.value)
    }
}
