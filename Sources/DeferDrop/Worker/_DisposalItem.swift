/// A heap box that gives a value of any type, copyable or not, the one shape the
/// queue stores: a single object reference. Releasing the box destroys the value.
@usableFromInline
final class _Box<Value: ~Copyable>: _ValueBox {
    /// The first stored property: `_LastReferenceCheck` reads it in place. Unchecked
    /// exclusivity: the producer makes the box, then only its one holder reads it.
    @exclusivity(unchecked)
    @usableFromInline
    var value: Value

    @inlinable
    init(_ value: consuming Value) {
        self.value = value
        super.init()
    }

    override var heldType: UnsafeRawPointer {
        unsafeBitCast(Value.self, to: UnsafeRawPointer.self)
    }
}

/// One value on its way to a worker: the only reference to its box. It is
/// moved, never copied, so the worker's release is the last and destroys the
/// value; a copy could leave the last release to the producer.
@usableFromInline
struct _DisposalItem: @unchecked Sendable {
    // @unchecked Sendable: the box is made from a `sending` value, so no other
    // reference to it exists, and the item is only ever moved.
    /// A `var` so that the worker can check it for other references in place.
    @usableFromInline
    var object: AnyObject

    /// Boxes `value`, unless it is a class instance: that is queued as it is,
    /// sparing an allocation and a free per value.
    @inlinable
    init<Value: ~Copyable>(boxing value: consuming Value) {
        // A noncopyable type's metatype does not convert to `Any.Type`, but
        // both are a pointer to the type's metadata.
        let type = unsafeBitCast(Value.self, to: Any.Type.self)
        if MemoryLayout<Value?>.size == MemoryLayout<AnyObject>.size, _TypeKind.isClass(type) {
            // Moved, not copied: the reference's bits are taken out of an optional
            // left `nil` (all zero bits), so nothing is retained or released.
            var slot: Value? = consume value
            object = withUnsafeMutablePointer(to: &slot) { slot in
                let raw = UnsafeMutableRawPointer(slot)
                let reference = raw.load(as: UnsafeRawPointer.self)
                raw.storeBytes(of: nil, as: UnsafeRawPointer?.self)
                return Unmanaged<AnyObject>.fromOpaque(reference).takeRetainedValue()
            }
        } else {
            object = _Box(value)
        }
    }

    /// Queues a class instance as it is: releasing it destroys it.
    @inlinable
    init(object: consuming AnyObject) {
        self.object = object
    }
}

/// What a type's metadata says about it, read in place.
@usableFromInline
package enum _TypeKind {
    /// Whether `type` is a class, as `type is AnyObject.Type` answers, from the
    /// metadata's kind word (Swift ABI, `TypeMetadata.rst`): 0 is a Swift class
    /// without Objective-C, the listed kinds are never classes, any other asks the
    /// runtime.
    @inlinable
    package static func isClass(_ type: Any.Type) -> Bool {
        switch unsafeBitCast(type, to: UnsafePointer<UInt>.self).pointee {
        case 0: true
        case 0x200...0x202, 0x300...0x304, 0x306...0x307: false
        default: type is AnyObject.Type
        }
    }
}
