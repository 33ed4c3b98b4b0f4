/// A value that is destroyed on a background thread when its wrapper ends.
///
/// When the last wrapper ends, its value is moved, never copied, to its
/// ``Disposer`` (``DropWorker/shared`` unless you name another) and destroyed
/// there, so the dropping thread cannot be left with the last release.
///
/// Where `Value` is copyable, so is the wrapper: copies share one storage, the
/// value is handed over once, when the last copy ends, and mutation is copy on
/// write. It is `Equatable`, `Hashable`, `Comparable` and `Codable` as its
/// value is, and passes member access through (`wrapper.count`). Where `Value`
/// is noncopyable, exactly one wrapper owns it. ``take()`` unwraps the value
/// without deferring. See <doc:WrapperAsAValue>.
///
/// Write `DeferDrop(consume table)` for a local you are done with: otherwise
/// the local's own reference may free the value on your thread (<doc:Caveats>).
@dynamicMemberLookup
public struct DeferDrop<Value: ~Copyable>: ~Copyable {
    /// Shared by the copies of a copyable wrapper; its deinit hands the value over.
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

    /// The wrapped value, borrowed to read and modified in place, copy on write.
    /// What a modification destroys is destroyed on the calling thread;
    /// ``replace(with:)`` hands an old value to the disposer instead.
    @inlinable
    public var value: Value {
        _read { yield _value }
        _modify { yield &_value }
    }

    /// The storage's value, copy on write: every `value` goes through here.
    @usableFromInline
    var _value: Value {
        _read { yield _storage.value! }
        _modify {
            _makeUnique()
            yield &_storage.value!
        }
    }

    /// Replaces the value and hands the old one to the disposer, as dropping
    /// the wrapper would, for any value. Copies that shared the storage keep
    /// the old value; this wrapper gets a storage of its own.
    @inlinable
    public mutating func replace(with newValue: consuming sending Value) {
        _replace(with: newValue)
    }

    /// `replace(with:)`, and the `value` setter where `Value` is `Sendable`.
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
    /// If other copies share the storage, they keep the value and the caller
    /// gets a copy. `wrapper.take()` on a local may copy the wrapper first and
    /// so return a copy: write `(consume wrapper).take()` to move the value out.
    @inlinable
    public consuming func take() -> Value {
        _makeUnique()
        return _storage.value.take()!
    }

    /// Gives this wrapper a storage of its own if another copy shares it.
    @inlinable
    mutating func _makeUnique() {
        if !isKnownUniquelyReferenced(&_storage) {
            _storage = _storage._copy()
        }
    }
}

/// A copyable value makes a copyable wrapper. Copies share the storage, so the
/// value is handed over once, when the last of them ends.
extension DeferDrop: Copyable where Value: Copyable {}

extension DeferDrop: Sendable where Value: Sendable & ~Copyable {}

/// Holds a wrapper's value and moves it to the disposer in its deinit: a class,
/// since Swift 6.3 can skip a generic noncopyable struct's `deinit`
/// (swiftlang/swift#89118), and a class's always runs.
@usableFromInline
final class _DeferDropStorage<Value: ~Copyable> {
    /// `nil` once `take()` has taken it. Unchecked exclusivity: writes go
    /// through the wrapper that holds the only reference (checked with
    /// `isKnownUniquelyReferenced`), statically exclusive; sharers only read.
    @exclusivity(unchecked)
    @usableFromInline
    var value: Value?

    /// `nil` means `DropWorker.shared`, sparing each wrapper a reference count.
    @usableFromInline
    let disposer: (any Disposer)?

    @inlinable
    init(_ value: consuming Value, disposer: (any Disposer)?) {
        self.value = consume value
        self.disposer = disposer
    }

    deinit {
        guard let value = value.take() else { return }  // taken back by take()
        // Disconnected: the value came in `sending` (or is a copy or freshly
        // decoded) and this is the last reference, which the compiler cannot see.
        _handOver(_Transfer(value: consume value))
    }

    @usableFromInline
    func _handOver(_ transfer: consuming _Transfer<Value>) {
        if let disposer {
            disposer.dispose(transfer.value)
        } else {
            DropWorker.shared.dispose(transfer.value)
        }
    }

    /// A storage with a copy of the value, for a wrapper that shares this one.
    /// Only a copyable wrapper can share its storage, so a shared storage's
    /// value is copyable; code generic over noncopyable values copies it
    /// through `_CopyableStorage`, which holds exactly then.
    @usableFromInline
    func _copy() -> _DeferDropStorage<Value> {
        guard let copyable = self as AnyObject as? any _CopyableStorage else {
            fatalError("DeferDrop: a storage shared by several wrappers holds a noncopyable \(Value.self)")
        }
        return unsafeDowncast(copyable._copyAsObject(), to: _DeferDropStorage<Value>.self)
    }
}

/// A storage whose value can be copied: see `_DeferDropStorage._copy()`.
@usableFromInline
protocol _CopyableStorage: AnyObject {
    /// A new storage with a copy of the value and the same disposer.
    func _copyAsObject() -> AnyObject
}

extension _DeferDropStorage: _CopyableStorage where Value: Copyable {
    @usableFromInline
    func _copyAsObject() -> AnyObject {
        _DeferDropStorage(value!, disposer: disposer)
    }
}

// @unchecked Sendable: `value` is written only through a wrapper holding the
// only reference, and copies that share the storage only read a Sendable value.
extension _DeferDropStorage: @unchecked Sendable where Value: Sendable & ~Copyable {}

/// Carries a value the compiler cannot prove disconnected into a `sending` parameter.
@usableFromInline
struct _Transfer<Value: ~Copyable>: ~Copyable, @unchecked Sendable {
    // @unchecked Sendable: it carries a value a wrapper lets go of, which came
    // in `sending` (or `Sendable`) and which only that one storage held, or a
    // freshly decoded one, which nothing else holds.
    @usableFromInline
    var value: Value

    @inlinable
    init(value: consuming Value) {
        self.value = value
    }
}
