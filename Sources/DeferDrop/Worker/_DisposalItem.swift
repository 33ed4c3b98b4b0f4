/// A heap box that gives a value of any type, copyable or not, the one shape the
/// queue stores: a single object reference. Releasing the box destroys the value.
@usableFromInline
final class _Box<Value: ~Copyable> {
    /// A `var` only so that the worker can test a held class instance or
    /// buffer for other references in place (see `_LastReferenceCheck`);
    /// nothing changes it. Unchecked exclusivity: the box is made by the
    /// producer and then only ever read, by the one thread that holds it.
    @exclusivity(unchecked)
    @usableFromInline
    var value: Value

    @inlinable
    init(_ value: consuming Value) {
        self.value = value
    }
}

/// One value on its way to a worker: the only reference to its box.
///
/// The item is *moved* from the producer into the queue and from the queue to
/// the worker, never copied, so exactly one thread holds the reference at any
/// time and the release that destroys the value is the worker's. (A copy would
/// leave the producer a release of its own; if the worker released first, the
/// producer's release would be the last one and the value would be destroyed on
/// the producer after all.)
@usableFromInline
struct _DisposalItem: @unchecked Sendable {
    // @unchecked Sendable: the box is created from a `sending` value (or from
    // the field of a wrapper that was initialised from one), so no other
    // reference to the value exists, and the item itself is only ever moved.
    /// A `var` only so that the worker can test it for other references in
    /// place, just before releasing it (see `_LastReferenceCheck`).
    @usableFromInline
    var object: AnyObject

    @inlinable
    init<Value: ~Copyable>(boxing value: consuming Value) {
        object = _Box(value)
    }

    /// Queues a class instance as it is: releasing it destroys it.
    @inlinable
    init(object: consuming AnyObject) {
        self.object = object
    }
}
