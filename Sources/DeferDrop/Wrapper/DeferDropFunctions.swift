/// Hands `value` to the global worker, ``DropWorker/shared``, to be destroyed
/// on its thread rather than this one: `deferDrop(consume table)`.
@inlinable
public func deferDrop<Value: ~Copyable>(_ value: consuming sending Value) {
    DropWorker.shared.dispose(value)
}

/// Hands `value` to `disposer`, to be destroyed on its thread rather than this one.
@inlinable
public func deferDrop<Value: ~Copyable>(_ value: consuming sending Value, on disposer: some Disposer) {
    disposer.dispose(value)
}

/// Hands a class instance to the global worker, as ``deferDrop(_:)-(Value)``
/// does, without boxing it.
@inlinable
public func deferDrop<Object: AnyObject>(_ object: consuming sending Object) {
    DropWorker.shared.dispose(object)
}

/// Hands a class instance to `disposer` without boxing it, where the disposer
/// supports that (``DropWorker`` does).
@inlinable
public func deferDrop<Object: AnyObject>(_ object: consuming sending Object, on disposer: some Disposer) {
    disposer.dispose(object)
}
