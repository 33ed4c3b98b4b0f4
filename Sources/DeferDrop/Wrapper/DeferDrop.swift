/// A value that is destroyed on a background thread when the wrapper is dropped.
///
/// Wrap a large value — a big array, dictionary or object graph — whose
/// destruction would otherwise cost the dropping thread milliseconds. Use it
/// through `value`; when the wrapper's lifetime ends, the value is handed to a
/// ``Disposer`` (``DropWorker/shared`` unless you name another) and destroyed
/// there:
///
/// ```swift
/// var index = DeferDrop(buildIndex())      // [String: [Posting]]
/// index.value["swift", default: []].append(posting)
/// print(index.value.count)
/// // When `index` goes out of scope, its dictionary is freed on the
/// // "defer-drop" thread, not here.
/// ```
///
/// ``take()`` unwraps the value without deferring anything, like the Rust
/// crate's `into_inner`. Where `Value` is copyable, the wrapper also passes
/// member access through to it (`index.count`), as the crate's `Deref` does.
///
/// ## A value like its value
/// Where `Value` is copyable, so is the wrapper, like the crate's `Clone`:
/// it goes into an `Array`, a `Dictionary` or a `Set`, a `Codable` model, an
/// escaping closure. Copies share one storage, and the value is handed to its
/// disposer once, when the *last* copy ends, on whatever thread that is.
/// Mutation is copy-on-write: changing `value` through a wrapper whose
/// storage is shared first gives that wrapper a storage of its own, with a copy
/// of the value and the same disposer, so the other copies do not change, and
/// each storage hands its own value over when it ends. Where `Value` is
/// `Equatable`, `Hashable`, `Comparable`, `Encodable` or `Decodable`, so is the
/// wrapper, looking at the value only, never at the disposer.
///
/// Where `Value` is noncopyable, the wrapper is noncopyable too: exactly one
/// wrapper owns the value, and dropping it is the one moment the value leaves.
///
/// ## Wrappers inside wrappers
/// A wrapper that ends inside a destructor its own worker is running — one
/// wrapped value holding others — is destroyed right there, depth first, as
/// the crate does, instead of being queued again. Past
/// ``DropWorker/maximumNestingDepth`` levels the next one is queued, so a chain
/// of any length cannot overflow the worker's stack.
///
/// ## Hand over the last reference
/// For a copyable value, write `DeferDrop(consume table)` when `table` is a
/// local you are done with. Without `consume`, Swift may keep the local's own
/// reference until the end of its scope (debug builds always do), and if the
/// worker has finished by then, that reference is the last one and the whole
/// structure is freed on your thread after all
/// (``DropStatistics/releasedElsewhere`` counts such values). A value made in
/// the call itself, `DeferDrop(buildIndex())`, needs nothing. The same holds
/// for a copy of `value` kept after the last wrapper ends.
///
/// ## Noncopyable values
/// Member access passes through (`wrapper.count`) only where `Value` is
/// copyable: Swift's dynamic member lookup takes key paths, which a
/// noncopyable type has none of. For a noncopyable value write
/// `wrapper.value.fd`; `wrapper.fd` fails to compile with "no exact matches
/// in reference to subscript".
///
/// ## Replacing the value
/// ``replace(with:)`` hands the old value to the disposer, for any value.
/// Where `Value` is copyable and `Sendable`, so does `wrapper.value =
/// newValue`, and ``DeferredDrop`` does the same for a stored property.
/// Elsewhere (a noncopyable value, or one that is not `Sendable`),
/// assigning through `value` replaces the value in place, and the old one is
/// destroyed on the assigning thread: write `wrapper.replace(with:
/// newValue)` there.
///
/// ## Why a hand-off must move
/// The storage moves the value out of itself and into the worker's queue. It
/// never copies it: a copy would leave the storage's own reference to be
/// released on the dropping thread, and whenever the worker released its copy
/// first, that release would be the last one and the whole structure would be
/// freed on the dropping thread after all.
@dynamicMemberLookup
public struct DeferDrop<Value: ~Copyable>: ~Copyable {
    /// The value and where it goes, shared by the copies of a copyable wrapper.
    /// The storage is released when the last wrapper that holds it ends, and
    /// its deinit hands the value over.
    @usableFromInline
    var _storage: _DeferDropStorage<Value>

    /// Wraps `value`, to be destroyed by the global worker, ``DropWorker/shared``.
    @inlinable
    public init(_ value: consuming sending Value) {
        _storage = _DeferDropStorage(value, disposer: nil)
    }

    /// Wraps `value`, to be destroyed by `disposer`.
    @inlinable
    public init(_ value: consuming sending Value, on disposer: some Disposer) {
        _storage = _DeferDropStorage(value, disposer: disposer)
    }

    /// Wraps a value the caller has just made and shares with no one, for the
    /// global worker. For `Decodable`, whose decoded value the compiler cannot
    /// prove `sending`.
    @usableFromInline
    init(_fresh value: consuming Value) {
        _storage = _DeferDropStorage(value, disposer: nil)
    }

    /// The wrapped value, read in place and, on a `var`, modified in place.
    ///
    /// No copy is made: reading borrows the value and modifying it yields it
    /// for in-place mutation, so this works for noncopyable values too.
    /// Modifying it through a copy of a wrapper first gives that copy a
    /// storage and a value of its own (copy on write); the other copies keep
    /// theirs.
    ///
    /// What a modification destroys, it destroys on the calling thread: an
    /// element removed in place, and the old value when you assign a new one
    /// here (`wrapper.value = newValue` on a noncopyable value, or on one
    /// that is not `Sendable`). To hand the old value to the disposer
    /// instead, write ``replace(with:)``.
    @inlinable
    public var value: Value {
        _read { yield _value }
        _modify { yield &_value }
    }

    /// The value in its storage, copy on write: every declaration of `value`
    /// reads and modifies it through here.
    @usableFromInline
    var _value: Value {
        _read { yield _storage.value! }
        _modify {
            _makeUnique()
            yield &_storage.value!
        }
    }

    /// Replaces the value with `newValue` and hands the old one to the
    /// wrapper's disposer, as dropping the wrapper would: the calling thread
    /// never destroys it here, and the disposer destroys it where it
    /// destroys any value (a ``DropWorker`` with the default capacity, on
    /// its thread).
    ///
    /// For any value: noncopyable ones, ones that are not `Sendable`, and
    /// copyable ones whose storage other copies of this wrapper share. Then
    /// this wrapper gets a storage of its own with `newValue` and the same
    /// disposer, and the other copies keep the old value, which is handed
    /// over when the last of them ends.
    ///
    /// ```swift
    /// var connection = DeferDrop(FileHandleOwner(path: "a.log"))  // noncopyable
    /// connection.replace(with: FileHandleOwner(path: "b.log"))
    /// // a.log is closed on the worker's thread, not here.
    /// ```
    @inlinable
    public mutating func replace(with newValue: consuming sending Value) {
        _replace(with: newValue)
    }

    /// Replaces the value and hands the old one over: ``replace(with:)``,
    /// and the `value` setter where `Value` is `Sendable`.
    @inlinable
    mutating func _replace(with newValue: consuming Value) {
        if isKnownUniquelyReferenced(&_storage) {
            // Moved, never copied: a copy left here would be released
            // after the hand-off, on this thread, perhaps as the last.
            let old = _storage.value.take()!
            _storage.value = consume newValue
            _storage._handOver(_Transfer(value: consume old))
        } else {
            _storage = _DeferDropStorage(newValue, disposer: _storage.disposer)
        }
    }

    /// Ends the wrapper and returns its value, deferring nothing.
    ///
    /// The value is the caller's again and is destroyed wherever the caller
    /// drops it. If other copies of this wrapper share its storage, they keep
    /// the value and still defer it when the last of them ends; the caller gets
    /// a copy.
    ///
    /// Where `Value` is copyable, so is the wrapper, and `let v =
    /// wrapper.take()` on a local may copy the wrapper first, in release
    /// builds too: the local then keeps its own reference until the end of
    /// its scope, sharing the storage, so `take()` returns a copy and the
    /// value is still deferred when the local ends. Write `(consume
    /// wrapper).take()` to move the value out.
    @inlinable
    public consuming func take() -> Value {
        if isKnownUniquelyReferenced(&_storage) {
            return _storage.value.take()!
        }
        return _storage._copyOfValue()
    }

    /// Gives this wrapper a storage of its own, with a copy of the value and
    /// the same disposer, if another copy shares its storage.
    @inlinable
    mutating func _makeUnique() {
        if !isKnownUniquelyReferenced(&_storage) {
            _storage = _storage._copy()
        }
    }
}

/// A copyable value makes a copyable wrapper, as the Rust crate's wrapper is
/// `Clone`. The wrapper's only stored property is a class reference and it
/// has no `deinit` of its own (its storage has), so copies share the storage,
/// and the value is handed over when the last of them ends. (Swift requires
/// this conformance in the type's own file; the rest of what copyable values
/// add is in DeferDrop+Copyable.swift.)
extension DeferDrop: Copyable where Value: Copyable {}

extension DeferDrop: Sendable where Value: Sendable & ~Copyable {}

/// The heap half of a ``DeferDrop``: holds the value and hands it to the
/// disposer when the wrapper releases it.
///
/// Why a class and not a `deinit` on the wrapper itself: Swift 6.3 skips the
/// `deinit` of a generic noncopyable struct when the struct is destroyed
/// through its value witness table, as any unspecialised generic code does
/// (swiftlang/swift#89118, fixed for 6.4); the fields are then destroyed in
/// place, on the dropping thread. A class's `deinit` always runs. The value is
/// *moved* out of the storage and into the queue, so the release that destroys
/// it is the worker's.
@usableFromInline
final class _DeferDropStorage<Value: ~Copyable> {
    /// `nil` once ``DeferDrop/take()`` has taken the value back.
    ///
    /// Unchecked exclusivity: every write goes through a wrapper that holds
    /// the only reference to this storage (`value`'s `_modify`
    /// and ``DeferDrop/take()`` check `isKnownUniquelyReferenced` first, and
    /// copy the storage if not), and the compiler checks that wrapper's own
    /// accesses statically; the other copies only read, and only while they
    /// share it. So two overlapping accesses, one of them a write, cannot
    /// happen.
    @exclusivity(unchecked)
    @usableFromInline
    var value: Value?

    /// Where the value goes; `nil` means ``DropWorker/shared``, which saves
    /// every wrapper a reference count on the global worker.
    @usableFromInline
    let disposer: (any Disposer)?

    @inlinable
    init(_ value: consuming Value, disposer: (any Disposer)?) {
        self.value = consume value
        self.disposer = disposer
    }

    deinit {
        guard let value = value.take() else { return }  // taken back by take()
        // The wrapper was initialised from a `sending` value (or is a
        // copy-on-write copy of one, or a freshly decoded one), and this is the
        // storage's last reference, so no wrapper can reach the value any more;
        // the compiler cannot carry that knowledge into a deinit.
        _handOver(_Transfer(value: consume value))
    }

    /// Hands `transfer`'s value to the disposer.
    @usableFromInline
    func _handOver(_ transfer: consuming _Transfer<Value>) {
        if let disposer {
            disposer.dispose(transfer.value)
        } else {
            DropWorker.shared.dispose(transfer.value)
        }
    }

    /// A new storage with a copy of the value and the same disposer.
    @usableFromInline
    func _copy() -> _DeferDropStorage<Value> {
        _DeferDropStorage(_copyOfValue(), disposer: disposer)
    }

    /// A copy of the value.
    ///
    /// Only copies of a wrapper share a storage, and only a copyable wrapper
    /// can be copied, so a shared storage always holds a copyable value. But
    /// the wrapper's own methods are generic over noncopyable values too, and
    /// cannot copy one themselves: they ask the storage's conditional
    /// conformance to `_CopyableStorage`, which exists exactly when `Value` is
    /// copyable and which the runtime finds for the dynamic type.
    @usableFromInline
    func _copyOfValue() -> Value {
        guard let copyable = self as AnyObject as? any _CopyableStorage else {
            fatalError("DeferDrop: a storage shared by several wrappers holds a noncopyable \(Value.self)")
        }
        let copy = UnsafeMutablePointer<Value>.allocate(capacity: 1)
        defer { copy.deallocate() }
        copyable._copyValue(to: UnsafeMutableRawPointer(copy))
        return copy.move()
    }
}

/// A storage whose value can be copied: see `_DeferDropStorage._copyOfValue()`.
@usableFromInline
protocol _CopyableStorage: AnyObject {
    /// Initialises the uninitialised memory at `destination`, bound to the
    /// storage's `Value`, with a copy of the value.
    func _copyValue(to destination: UnsafeMutableRawPointer)
}

extension _DeferDropStorage: _CopyableStorage where Value: Copyable {
    @usableFromInline
    func _copyValue(to destination: UnsafeMutableRawPointer) {
        destination.assumingMemoryBound(to: Value.self).initialize(to: value!)
    }
}

// @unchecked Sendable where the value is Sendable: the storage has a mutable
// property, but it is written only through a wrapper that holds the storage's
// one reference (see `value`), and copies that share it only read a Sendable
// value; sending a wrapper sends its share of the storage.
extension _DeferDropStorage: @unchecked Sendable where Value: Sendable & ~Copyable {}

/// Carries a value the compiler cannot prove disconnected into a `sending` parameter.
@usableFromInline
struct _Transfer<Value: ~Copyable>: ~Copyable, @unchecked Sendable {
    // @unchecked Sendable: it carries the value a wrapper lets go of, when it
    // ends (`_DeferDropStorage.deinit`) or is given another
    // (`DeferDrop._replace(with:)`). That value was received `sending` (or is
    // `Sendable`, through the setter) and only the one storage held it.
    @usableFromInline
    var value: Value

    @inlinable
    init(value: consuming Value) {
        self.value = value
    }
}
