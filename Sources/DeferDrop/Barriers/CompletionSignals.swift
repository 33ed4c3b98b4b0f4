/// Hands `value` to the global worker and calls `whenDestroyed` once it has
/// been destroyed.
///
/// `whenDestroyed` runs exactly once, right after the value's destructor
/// returns, on the thread that destroyed it: the worker's, or the caller's if
/// the worker is shut down or full under ``OverflowPolicy/destroyInline``.
/// Keep it short: it delays the values queued behind. It may hand values
/// over, but must not call the worker's `flush()`. In `async` code,
/// ``deferDropAndWait(_:)`` suspends until then instead.
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

/// Hands `value` to the global worker and suspends until it has been destroyed:
/// the task waits, not its thread, and the freeing happens off the cooperative pool.
@inlinable
public func deferDropAndWait<Value: ~Copyable>(_ value: consuming sending Value) async {
    await deferDropAndWait(value, on: DropWorker.shared)
}

/// Hands `value` to `disposer` and suspends until it has been destroyed.
public func deferDropAndWait<Value: ~Copyable>(
    _ value: consuming sending Value, on disposer: some Disposer
) async {
    // Hand over, then wait: the destruction may finish before the task
    // suspends, which the rendezvous allows for.
    let rendezvous = _Lock(_Rendezvous.waitingForBoth)
    disposer.dispose(_CompletionBox(value, whenDestroyed: { _Rendezvous.arrive(.valueDestroyed, at: rendezvous) }))
    await withCheckedContinuation { continuation in
        _Rendezvous.arrive(.taskSuspended(continuation), at: rendezvous)
    }
}

/// Where the destruction of a value and the task waiting for it meet,
/// whichever comes first: the second to arrive resumes the task.
enum _Rendezvous: Sendable {
    case waitingForBoth
    case taskSuspended(CheckedContinuation<Void, Never>)
    case valueDestroyed

    /// One side arrives: `.taskSuspended` or `.valueDestroyed`, never `.waitingForBoth`.
    static func arrive(_ side: _Rendezvous, at rendezvous: _Lock<_Rendezvous>) {
        let earlier = rendezvous.withLock { state in
            defer { state = side }
            return state
        }
        switch (earlier, side) {
        case (.taskSuspended(let task), .valueDestroyed), (.valueDestroyed, .taskSuspended(let task)):
            task.resume()
        default:
            break  // the first to arrive: the other resumes the task
        }
    }
}
