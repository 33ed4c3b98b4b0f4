/// A property whose values are destroyed on a worker: the one it holds when
/// its owner ends, and each one an assignment replaces.
///
/// ```swift
/// @DeferredDrop var entries: [String: [Int]] = [:]
/// entries = [:]   // the old dictionary goes to the worker
/// ```
///
/// Modifying in place changes the value where it is, copy on write. `Sendable`
/// only, since a setter cannot take its value `sending`; for other values, use
/// a ``DeferDrop`` and assign whole wrappers.
@propertyWrapper
public struct DeferredDrop<Value: Sendable>: Sendable {
    @usableFromInline
    var _wrapper: DeferDrop<Value>

    /// A property whose values ``DropWorker/shared`` destroys.
    @inlinable
    public init(wrappedValue: Value) {
        _wrapper = DeferDrop(wrappedValue)
    }

    /// A property whose values `disposer` destroys.
    @inlinable
    public init(wrappedValue: Value, on disposer: some Disposer) {
        _wrapper = DeferDrop(wrappedValue, on: disposer)
    }

    /// The value. Setting it hands the old one to the disposer.
    @inlinable
    public var wrappedValue: Value {
        get { _wrapper.value }
        set { _wrapper.value = newValue }
        _modify { yield &_wrapper.value }
    }

    /// The ``DeferDrop`` that holds the value, as `$property`.
    @inlinable
    public var projectedValue: DeferDrop<Value> {
        get { _wrapper }
        set { _wrapper = newValue }
    }
}
