/// A value that is destroyed on a background thread when the wrapper is dropped.
///
/// Wrap a large value — a big array, dictionary or object graph — whose
/// destruction would otherwise cost the dropping thread milliseconds. Use it
/// through ``value``; when the wrapper's lifetime ends, the value is handed to a
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
/// The wrapper is noncopyable, so exactly one wrapper owns the value, and
/// dropping it is the one moment the value leaves. ``take()`` unwraps the value
/// without deferring anything, like the Rust crate's `into_inner`.
///
/// Where `Value` is copyable, the wrapper also passes member access through to
/// it (`index.count`), as the crate's `Deref` does.
///
/// ## Hand over the last reference
/// For a copyable value, write `DeferDrop(consume table)` when `table` is a
/// local you are done with. Without `consume`, Swift may keep the local's own
/// reference until the end of its scope (debug builds always do), and if the
/// worker has finished by then, that reference is the last one and the whole
/// structure is freed on your thread after all. A value made in the call
/// itself, `DeferDrop(buildIndex())`, needs nothing.
///
/// ## Why a hand-off must move
/// The wrapper moves the value out of itself and into the worker's queue. It
/// never copies it: a copy would leave the wrapper's own reference to be
/// released on the dropping thread, and whenever the worker released its copy
/// first, that release would be the last one and the whole structure would be
/// freed on the dropping thread after all.
@dynamicMemberLookup
public struct DeferDrop<Value: ~Copyable>: ~Copyable {
    /// The value and where it goes. The wrapper is noncopyable, so this is the
    /// only reference to the storage: it is released exactly when the wrapper
    /// ends, and the storage's deinit hands the value over.
    @usableFromInline
    let _storage: _DeferDropStorage<Value>

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

    /// The wrapped value, read in place and, on a `var`, modified in place.
    ///
    /// No copy is made: reading borrows the value and modifying it yields it
    /// for in-place mutation, so this works for noncopyable values too.
    @inlinable
    public var value: Value {
        _read { yield _storage.value! }
        _modify { yield &_storage.value! }
    }

    /// Ends the wrapper and returns its value, deferring nothing.
    ///
    /// The value is the caller's again and is destroyed wherever the caller
    /// drops it.
    @inlinable
    public consuming func take() -> Value {
        _storage.value.take()!
    }
}

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
    /// Unchecked exclusivity: only the one noncopyable wrapper reaches this
    /// object, through `_read`, `_modify` and `take()`, and the compiler checks
    /// the wrapper's own accesses statically, so two overlapping accesses to
    /// this property cannot happen.
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
        // The wrapper was initialised from a `sending` value and never shared
        // it, but the compiler cannot carry that knowledge into a deinit.
        let transfer = _Transfer(value: value)
        if let disposer {
            disposer.dispose(transfer.value)
        } else {
            DropWorker.shared.dispose(transfer.value)
        }
    }
}

// @unchecked Sendable where the value is Sendable: the storage has a mutable
// property, but only the one noncopyable wrapper can reach it, so whoever owns
// the wrapper owns the storage; sending the wrapper sends both together.
extension _DeferDropStorage: @unchecked Sendable where Value: Sendable & ~Copyable {}

/// Carries a value the compiler cannot prove disconnected into a `sending` parameter.
@usableFromInline
struct _Transfer<Value: ~Copyable>: ~Copyable, @unchecked Sendable {
    // @unchecked Sendable: used only by `_DeferDropStorage.deinit`, for the
    // value of a dropped wrapper, which was received `sending` and never shared.
    @usableFromInline
    var value: Value

    @inlinable
    init(value: consuming Value) {
        self.value = value
    }
}
