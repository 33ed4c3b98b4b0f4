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
/// package's boxes a class instance or the buffer of an `Array`,
/// `ContiguousArray`, `Dictionary` or `Set`. Other values (a struct holding
/// references, a `String`) are not inspected. It reads reference counts only;
/// the producer pays nothing for it.
///
/// What it costs the worker: one reference-count load per value (on the
/// object the worker is about to release anyway) and, for a value of another
/// type than the one before it, a dynamic conformance lookup; a stream of
/// values of one type pays the lookup once.
struct _LastReferenceCheck {
    /// The class (its metadata's address) of the last object checked.
    private var lastClass: UInt = 0
    private var lastInspector: ((AnyObject) -> Bool)?

    /// Whether the object at `address`, which the caller holds one reference
    /// to and is about to release, or the value inside it (for the package's
    /// boxes), is referenced elsewhere too.
    ///
    /// The caller passes the address (`_address(of:)`, in a statement of its
    /// own) rather than the reference, so that no copy of the reference exists
    /// while the count is read.
    @inline(__always)
    mutating func isReferencedElsewhere(at address: UnsafeRawPointer) -> Bool {
        if _isShared(address) { return true }
        // A Swift object's first word is its class's metadata (the runtime's
        // `HeapObject`): one load tells a stream of values of one class from
        // a change of class, without asking the runtime for the type.
        let objectClass = address.load(as: UInt.self)
        if objectClass != lastClass {
            lastClass = objectClass
            let objectType: AnyObject.Type = Unmanaged<AnyObject>.fromOpaque(address)._withUnsafeGuaranteedRef {
                Swift.type(of: $0)
            }
            // A dynamic conformance lookup takes the Swift runtime's locks
            // the first time it meets a type. It is done while no fork()
            // can begin (the fork's prepare handler takes the same lock
            // first), so that no child inherits one of those locks held.
            lastInspector = _ForkSafeLocks.shared.excludingFork { Self.inspector(for: objectType) }
        }
        guard let lastInspector else { return false }
        return Unmanaged<AnyObject>.fromOpaque(address)._withUnsafeGuaranteedRef { lastInspector($0) }
    }

    /// How to look inside an object of `type`, if it is one of the package's
    /// boxes around a value that can be inspected.
    private static func inspector(for type: AnyObject.Type) -> ((AnyObject) -> Bool)? {
        if let box = type as? any _HoldsObject.Type {
            return box._heldValueIsReferencedElsewhere
        }
        if let box = type as? any _HoldsSingleBufferValue.Type {
            return box._heldValueIsReferencedElsewhere
        }
        return nil
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

/// A box of the package's whose value is a class instance.
protocol _HoldsObject: AnyObject {
    /// Whether the held instance is referenced outside `box` too.
    static func _heldValueIsReferencedElsewhere(_ box: AnyObject) -> Bool
}

/// A box of the package's whose value is a collection with one buffer.
protocol _HoldsSingleBufferValue: AnyObject {
    /// Whether the held value's buffer is referenced outside `box` too.
    static func _heldValueIsReferencedElsewhere(_ box: AnyObject) -> Bool
}

/// A value whose contents live in a single reference-counted buffer that the
/// worker can test for other references without copying it: the standard
/// library's `Array`, `ContiguousArray`, `Dictionary` and `Set`, each a single
/// reference to its buffer on Linux (where there is no Objective-C bridging).
protocol _SingleBufferValue {
    /// How many elements the buffer has room for; 0 for the static empty
    /// buffer that every empty collection of the kind shares.
    var capacity: Int { get }
}

extension _SingleBufferValue {
    /// The address of the value's own buffer, or `nil` where it has none to
    /// test: empty, or, as a safeguard, not exactly one reference in size.
    ///
    /// A default implementation rather than one per collection: here the
    /// caller passes `Self`'s metadata in, where code written for `Array`
    /// would look up `Array<Element>`'s on every call.
    @inline(__always)
    var _ownBuffer: UnsafeRawPointer? {
        guard MemoryLayout<Self>.size == MemoryLayout<AnyObject>.size, capacity > 0 else { return nil }
        return unsafeBitCast(self, to: UnsafeRawPointer.self)
    }
}

extension Array: _SingleBufferValue {}
extension ContiguousArray: _SingleBufferValue {}
extension Dictionary: _SingleBufferValue {}
extension Set: _SingleBufferValue {}

// Each test below takes the address in a statement of its own and reads the
// count in the next, so that no copy of the held value is alive while it does.

extension _Box: _HoldsObject where Value: AnyObject {
    static func _heldValueIsReferencedElsewhere(_ box: AnyObject) -> Bool {
        let held = _address(of: unsafeDowncast(box, to: Self.self).value)
        return _isShared(held)
    }
}

extension _Box: _HoldsSingleBufferValue where Value: _SingleBufferValue {
    static func _heldValueIsReferencedElsewhere(_ box: AnyObject) -> Bool {
        guard let buffer = unsafeDowncast(box, to: Self.self).value._ownBuffer else { return false }
        return _isShared(buffer)
    }
}

extension _CompletionBox: _HoldsObject where Value: AnyObject {
    static func _heldValueIsReferencedElsewhere(_ box: AnyObject) -> Bool {
        guard unsafeDowncast(box, to: Self.self).value != nil else { return false }
        let held = _address(of: unsafeDowncast(box, to: Self.self).value!)
        return _isShared(held)
    }
}

extension _CompletionBox: _HoldsSingleBufferValue where Value: _SingleBufferValue {
    static func _heldValueIsReferencedElsewhere(_ box: AnyObject) -> Bool {
        guard let buffer = unsafeDowncast(box, to: Self.self).value?._ownBuffer else { return false }
        return _isShared(buffer)
    }
}
