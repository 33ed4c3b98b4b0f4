import _DeferDropShims

/// Tells, just before the worker releases a value, whether a reference to it
/// is still held elsewhere, so that the release will not destroy it: a caller
/// that hands over without `consume` destroys the value on its own thread,
/// and `DropStatistics.releasedElsewhere` shows it. It sees class instances,
/// and inside the package's boxes class-bound references and collection buffers.
///
/// Fork safety: it never calls into the runtime where that can take a lock (a
/// class cast walks superclass pointers; a box's held type comes from metadata).
/// A conformance lookup takes a lock that a `fork()` child may never get back.
struct _LastReferenceCheck {
    /// The class (its metadata's address) of the last object checked.
    private var lastClass: UInt = 0
    /// Whether objects of that class are boxes holding one counted reference.
    private var lastHoldsReference = false

    /// Whether the object at `address`, which the caller is about to release, or
    /// the value inside it (for the package's boxes), is referenced elsewhere too.
    /// An address, not a reference, so no copy of it exists while the count is read.
    @inline(__always)
    mutating func isReferencedElsewhere(at address: UnsafeRawPointer) -> Bool {
        // An Objective-C object or a tagged pointer (Darwin) is left to the
        // plain release: its counts and its first word are not the Swift runtime's.
        guard _deferdrop_object_is_native(address) != 0 else { return false }
        if _isShared(address) { return true }
        // A Swift object's first word is its class's metadata: one load tells a
        // change of class.
        let objectClass = address.load(as: UInt.self)
        if objectClass != lastClass {
            lastClass = objectClass
            lastHoldsReference = Unmanaged<AnyObject>.fromOpaque(address)._withUnsafeGuaranteedRef { object in
                guard let box = object as? _ValueBox else { return false }
                return _deferdrop_type_is_one_counted_reference(box.heldType) != 0
            }
        }
        guard lastHoldsReference else { return false }
        // The box's first stored property, right after the object header: one
        // reference, or `nil` (all zero bits).
        guard let held = address.load(fromByteOffset: _heapObjectHeaderSize, as: UnsafeRawPointer?.self),
            _deferdrop_object_is_native(held) != 0
        else { return false }
        return _isShared(held)
    }
}

/// The size of a Swift object's header: its metadata and its reference counts.
let _heapObjectHeaderSize = 2 * MemoryLayout<UnsafeRawPointer>.size

/// A box of the package's (`_Box`, `_CompletionBox`), the one kind of object the
/// worker looks inside. It has no stored property, so a subclass's first one,
/// the held value, lies right after the header where `_LastReferenceCheck`
/// reads it. A class, not a protocol: a class cast takes no runtime lock.
@usableFromInline
class _ValueBox {
    @usableFromInline
    init() {}

    /// The held value's type: its metadata.
    var heldType: UnsafeRawPointer {
        fatalError("a subclass of _ValueBox says what it holds")
    }
}

/// The address of the object that `object` refers to. Not
/// `isKnownUniquelyReferenced`: an unoptimised build keeps a copy of the
/// reference alive across the call, so every object would look shared.
@inline(__always)
func _address(of object: AnyObject) -> UnsafeRawPointer {
    UnsafeRawPointer(Unmanaged.passUnretained(object).toOpaque())
}

/// Whether the object at `address` has more than one strong reference, so that
/// releasing one will not destroy it; an immortal object is never shared.
@inline(__always)
func _isShared(_ address: UnsafeRawPointer) -> Bool {
    _deferdrop_object_is_uniquely_referenced(address) == 0 && _deferdrop_object_is_immortal(address) == 0
}
