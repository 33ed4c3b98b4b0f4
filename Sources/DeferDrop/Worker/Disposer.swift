/// Something that destroys values on a thread of its own.
///
/// A disposer takes ownership of the values handed to it and destroys them
/// later, away from the thread that handed them over. ``DropWorker`` is the
/// package's disposer; ``DeferDrop`` and ``deferDrop(_:on:)-(Value,_)`` accept any.
///
/// Conforming types promise:
/// - every value handed to ``dispose(_:)-(Value)`` is destroyed exactly once, and
///   never lost: not when the disposer is shut down, not when it is busy;
/// - `flush()` is a barrier: when it returns, every value handed over before
///   the call, by any thread, has been destroyed.
public protocol Disposer: AnyObject, Sendable {
    /// Takes ownership of `value` and destroys it later, on the disposer's
    /// thread rather than the caller's.
    ///
    /// The value is *moved*: the caller keeps no reference that could make it
    /// the one to destroy the value. `sending` lets non-`Sendable` values
    /// through when the compiler can prove the caller gives up all access.
    func dispose<Value: ~Copyable>(_ value: consuming sending Value)

    /// Takes ownership of a class instance and destroys it later, like
    /// ``dispose(_:)-(Value)``.
    ///
    /// Swift picks this overload for class instances. A disposer can then
    /// queue the reference itself instead of boxing the value first, which
    /// saves an allocation per hand-off where hand-offs are many and small. The
    /// default implementation forwards to the generic ``dispose(_:)-(Value)``.
    func dispose<Object: AnyObject>(_ object: consuming sending Object)

    /// Blocks the calling thread until every value handed over before the call
    /// has been destroyed.
    ///
    /// Unavailable in `async` code, where `await flush()` suspends the task
    /// instead of blocking a thread of the cooperative pool.
    @available(*, noasync, message: "blocks a thread of the cooperative pool; use `await flush()`, from an async function (in top-level code Swift picks this blocking overload even after `await`)")
    func flush()

    /// Suspends until every value handed over before the call has been destroyed.
    func flush() async
}

extension Disposer {
    /// Forwards a class instance to the generic ``dispose(_:)-(Value)``.
    public func dispose<Object: AnyObject>(_ object: consuming sending Object) {
        _disposeAsValue(object, on: self)
    }
}

/// Calls the generic `dispose` requirement, which inside a `~Copyable` generic
/// context is the only candidate (a direct call would pick the `AnyObject` overload
/// and recurse).
@usableFromInline
func _disposeAsValue<Value: ~Copyable>(_ value: consuming sending Value, on disposer: some Disposer) {
    disposer.dispose(value)
}
