import _DeferDropShims

/// Tells, just before the worker releases a value it was handed, whether a
/// reference to it is still held somewhere else, so that the worker's release
/// will not be the one that destroys it.
///
/// Why: `deferDrop(table)` without `consume`, followed by more work in the same
/// scope, leaves the caller's own reference alive. The worker's release then
/// only decrements a count, and the caller destroys the whole structure at the
/// end of its scope, on exactly the thread the package was meant to spare,
/// while the statistics say "deferred, destroyed". This check makes that
/// visible (`DropStatistics.releasedElsewhere`).
///
/// What it can see: a class instance handed over as it is, and inside the
/// package's boxes a class instance, a class-bound existential, or the buffer
/// of a `ContiguousArray`, and except on Apple platforms an `Array`,
/// `Dictionary` or `Set`. Other values (a struct holding references, a
/// `String`, an Objective-C object) are not inspected. It reads
/// reference counts only; the producer pays nothing for it.
///
/// It never calls into the Swift runtime in a way that can take a lock: a
/// class cast walks superclass pointers, and what a box holds is read from
/// its value type's metadata (`_deferdrop_type_is_one_counted_reference`).
/// A dynamic conformance lookup would take the runtime's conformance-cache
/// lock the first time it meets a type, and in the child of a `fork()` that
/// lock may be held for ever by a thread of the parent (any thread, not only
/// the package's): the child's worker would hang on its first value of a
/// new type (`Docs/Architecture.md`, "fork()").
///
/// What it costs the worker: one reference-count load per value, and, for a
/// value of another class than the one before it, a class cast and a look at
/// the held type's metadata.
struct _LastReferenceCheck {
    /// The class (its metadata's address) of the last object checked.
    private var lastClass: UInt = 0
    /// Whether objects of that class are boxes holding one counted reference.
    private var lastHoldsReference = false

    /// Whether the object at `address`, which the caller holds one reference
    /// to and is about to release, or the value inside it (for the package's
    /// boxes), is referenced elsewhere too.
    ///
    /// The caller passes the address (`_address(of:)`, in a statement of its
    /// own) rather than the reference, so that no copy of the reference exists
    /// while the count is read.
    @inline(__always)
    mutating func isReferencedElsewhere(at address: UnsafeRawPointer) -> Bool {
        // An Objective-C object or a tagged pointer (Darwin) is left to the
        // plain release: its counts and its first word are not the Swift runtime's.
        guard _deferdrop_object_is_native(address) != 0 else { return false }
        if _isShared(address) { return true }
        // A Swift object's first word is its class's metadata (the runtime's
        // `HeapObject`): one load tells a stream of values of one class from
        // a change of class.
        let objectClass = address.load(as: UInt.self)
        if objectClass != lastClass {
            lastClass = objectClass
            lastHoldsReference = Unmanaged<AnyObject>.fromOpaque(address)._withUnsafeGuaranteedRef { object in
                guard let box = object as? _ValueBox else { return false }
                return _deferdrop_type_is_one_counted_reference(box.heldType) != 0
            }
        }
        guard lastHoldsReference else { return false }
        // The held value is the box's first stored property, right after
        // the object header (metadata and reference counts, two words), and
        // is one reference, aligned as a pointer; `nil` in an optional.
        guard let held = address.load(fromByteOffset: _heapObjectHeaderSize, as: UnsafeRawPointer?.self),
            _deferdrop_object_is_native(held) != 0
        else { return false }
        return _isShared(held)
    }
}

/// The size of a Swift object's header: its metadata and its reference counts.
let _heapObjectHeaderSize = 2 * MemoryLayout<UnsafeRawPointer>.size

/// A box of the package's (`_Box`, `_CompletionBox`): the one kind of object
/// the worker looks inside. Its held value is its subclass's first stored
/// property.
///
/// Invariant: this class has no stored property, so a subclass's first
/// stored property lies right after the object header
/// (`_heapObjectHeaderSize`), where `_LastReferenceCheck` reads it. A stored
/// property added here would move it.
///
/// Why a base class and not a protocol: the worker's check is a class cast,
/// which reads the metadata's superclass chain and takes no lock. A cast to
/// a protocol consults the runtime's conformance cache under a lock that a
/// fork() may leave held by a thread the child does not have.
@usableFromInline
class _ValueBox {
    @usableFromInline
    init() {}

    /// The held value's type: its metadata.
    var heldType: UnsafeRawPointer {
        fatalError("a subclass of _ValueBox says what it holds")
    }
}

/// The address of the object that `object` refers to.
///
/// Why an address and not `isKnownUniquelyReferenced`: an unoptimised build
/// keeps a copy of the reference alive across any call that receives one (and
/// opening an `AnyObject` existential for the generic function makes another),
/// and the copy makes every object look shared. Taking the address in one
/// statement and reading the count in the next lets every such copy end in
/// between.
@inline(__always)
func _address(of object: AnyObject) -> UnsafeRawPointer {
    UnsafeRawPointer(Unmanaged.passUnretained(object).toOpaque())
}

/// Whether the object at `address` has other strong references than one, so
/// that releasing one will not destroy it. (Immortal, statically laid-out
/// objects, which nothing destroys, are not counted as shared.)
@inline(__always)
func _isShared(_ address: UnsafeRawPointer) -> Bool {
    _deferdrop_object_is_uniquely_referenced(address) == 0 && _deferdrop_object_is_immortal(address) == 0
}
