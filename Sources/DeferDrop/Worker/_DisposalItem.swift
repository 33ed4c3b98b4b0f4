/// A heap box that gives a value of any type, copyable or not, the one shape the
/// queue stores: a single object reference. Releasing the box destroys the value.
@usableFromInline
final class _Box<Value: ~Copyable>: _ValueBox {
    /// The first stored property: `_LastReferenceCheck` reads a held
    /// reference in place. Unchecked exclusivity: the box is made by the
    /// producer and then only ever read, by the one thread that holds it.
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

    /// Boxes `value`, unless it is a class instance: that is queued as it is.
    ///
    /// Why look: generic code (`deferDrop(_:)`, a `Disposer`, a helper of the
    /// caller's) reaches here with class instances too, and a box would cost
    /// the producer an allocation and the worker a free, per value, for
    /// nothing. Specialised for a concrete type, the test is a load and a
    /// comparison (`_TypeKind.isClass`).
    @inlinable
    init<Value: ~Copyable>(boxing value: consuming Value) {
        // A noncopyable type's metatype does not convert to `Any.Type`, but
        // both are a pointer to the type's metadata.
        let type = unsafeBitCast(Value.self, to: Any.Type.self)
        if MemoryLayout<Value?>.size == MemoryLayout<AnyObject>.size, _TypeKind.isClass(type) {
            // Moved, not copied: the reference's bits are taken out of an
            // optional that is then left `nil` (a class reference's `nil` is
            // all zero bits), so nothing is retained or released, and the
            // worker's release is the last.
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
    /// Whether `type` is a class, as `type is AnyObject.Type` answers, without
    /// a call into the runtime for the kinds whose answer is certain.
    ///
    /// The first word of a type's metadata is its kind (the Swift ABI's
    /// `docs/ABI/TypeMetadata.rst`): 0 for a Swift class where there is no
    /// Objective-C runtime, as on Linux; 0x200 to 0x202 for structs, enums
    /// and optionals, 0x300 to 0x304 and 0x306 to 0x307 for opaque, tuple,
    /// function, existential and metatype metadata, none of them a class.
    /// Any other kind (a foreign class, an Objective-C class) asks the
    /// runtime: a call into it, where the kinds above are one load.
    @inlinable
    package static func isClass(_ type: Any.Type) -> Bool {
        switch unsafeBitCast(type, to: UnsafePointer<UInt>.self).pointee {
        case 0: true
        case 0x200...0x202, 0x300...0x304, 0x306...0x307: false
        default: type is AnyObject.Type
        }
    }
}
