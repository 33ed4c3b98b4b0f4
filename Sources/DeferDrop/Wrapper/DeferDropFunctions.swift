/// Hands `value` to the global worker, ``DropWorker/shared``, to be destroyed
/// on its thread rather than this one.
///
/// Use it where a value's last use is plain to see:
///
/// ```swift
/// let results = process(hugeTable)
/// deferDrop(hugeTable)     // freed on the "defer-drop" thread
/// respond(results)
/// ```
@inlinable
public func deferDrop<Value: ~Copyable>(_ value: consuming sending Value) {
    DropWorker.shared.dispose(value)
}

/// Hands `value` to `disposer`, to be destroyed on its thread rather than this one.
@inlinable
public func deferDrop<Value: ~Copyable>(_ value: consuming sending Value, on disposer: some Disposer) {
    disposer.dispose(value)
}

/// Hands a class instance to the global worker without boxing it.
///
/// Swift picks this overload of ``deferDrop(_:)-(Value)`` for class instances;
/// it behaves the same and saves an allocation per hand-off.
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
