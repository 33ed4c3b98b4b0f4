/// A property whose values are destroyed on a worker: the one it holds when
/// its owner ends, and each one an assignment replaces.
///
/// ```swift
/// struct Index {
///     @DeferredDrop var entries: [String: [Int]] = [:]
/// }
/// index.entries["swift", default: []].append(1)  // in place, no copy
/// index.entries = [:]                            // the old map goes to the worker
/// ```
///
/// Reading gives a copy, as any property does (for a collection, a reference
/// to the same storage). Modifying in place (`append`, a subscript) changes
/// the value where it is, copy on write. A plain assignment hands the value
/// it replaces to the disposer; a ``DeferDrop`` does the same for its
/// `value`.
///
/// Why `Sendable`: the old value leaves for the worker's thread, and a setter
/// cannot take its new value `sending`, so Swift cannot check that the
/// caller keeps no reference into it. For a noncopyable or non-`Sendable`
/// value, use a ``DeferDrop`` and assign whole wrappers.
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

    /// The value. Setting it hands the old one to the disposer; modifying it
    /// in place changes it where it is.
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
