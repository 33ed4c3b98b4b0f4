/// Something that destroys values on a thread of its own.
///
/// Conforming types promise that every value handed to
/// ``dispose(_:)-(Value)`` is destroyed exactly once and never lost, even when
/// the disposer is shut down or busy, and that `flush()` is a barrier: when it
/// returns, every value handed over before the call, by any thread, has been
/// destroyed. ``DropWorker`` is the package's disposer.
public protocol Disposer: AnyObject, Sendable {
    /// Takes ownership of `value` and destroys it later, off the caller's
    /// thread. The value is moved, so the caller keeps no reference that could
    /// make it the one to destroy the value.
    func dispose<Value: ~Copyable>(_ value: consuming sending Value)

    /// Takes ownership of a class instance, like ``dispose(_:)-(Value)``, so
    /// that a disposer can queue the reference without boxing it.
    func dispose<Object: AnyObject>(_ object: consuming sending Object)

    /// Blocks the calling thread until every value handed over before the call
    /// has been destroyed. In `async` code, `await flush()` suspends instead.
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

/// Calls the generic `dispose`: inside a `~Copyable` generic context it is the
/// only candidate, where a direct call would pick the `AnyObject` overload and recurse.
@usableFromInline
func _disposeAsValue<Value: ~Copyable>(_ value: consuming sending Value, on disposer: some Disposer) {
    disposer.dispose(value)
}
