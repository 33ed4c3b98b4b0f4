import _DeferDropShims

/// What a worker's thread keeps for itself while it runs, in thread-local
/// storage, so a hand-off can tell without the lock whether its own worker runs
/// it. Only that thread sees it: no lock. `@exclusivity(unchecked)`: only the
/// owning thread reaches the properties, and no access spans a call that could
/// reach them again.
final class _WorkerThreadState {
    @exclusivity(unchecked) private(set) var nestingDepth = 0
    /// This and the next: since the worker last published its counts.
    @exclusivity(unchecked) private var destroyedInPlace: UInt64 = 0
    @exclusivity(unchecked) private var releasedElsewhere: UInt64 = 0
    @exclusivity(unchecked) private var hasReported = false
    @exclusivity(unchecked) private var lastReferenceCheck = _LastReferenceCheck()
    /// Made on this thread, whose counter it reads.
    private let freed = _ThreadFreedBytes()

    static func run(asWorkerOf queue: _DropQueue, _ body: (_WorkerThreadState) -> Void) {
        let state = _WorkerThreadState()
        withExtendedLifetime(state) {
            _deferdrop_set_worker_thread(_address(of: queue), Unmanaged.passUnretained(state).toOpaque())
            defer { _deferdrop_set_worker_thread(nil, nil) }
            body(state)
        }
    }

    /// Only on a worker's thread.
    static var current: _WorkerThreadState {
        Unmanaged<_WorkerThreadState>.fromOpaque(_deferdrop_worker_thread_state()!).takeUnretainedValue()
    }

    /// `object` is +1, from a chunk: a raw pointer, so no copy of it exists
    /// while its count is read.
    @inline(__always)
    func release(_ object: UnsafeMutableRawPointer) {
        if lastReferenceCheck.isReferencedElsewhere(at: object) {
            releasedElsewhere += 1
        }
        Unmanaged<AnyObject>.fromOpaque(object).release()
    }

    /// A value referenced elsewhere is left for the caller to queue: if that
    /// reference is a field of the value being destroyed, releasing here would
    /// recurse uncounted, deep enough to overflow the stack.
    func destroyInPlaceIfLastReference(_ item: inout _DisposalItem?) -> Bool {
        let object = _address(of: item!.object)
        if lastReferenceCheck.isReferencedElsewhere(at: object) { return false }
        nestingDepth += 1
        item = nil
        nestingDepth -= 1
        destroyedInPlace += 1
        return true
    }

    func takeCounts(into counts: inout _Counts) {
        if releasedElsewhere > 0 { reportReleasedElsewhereOnce() }
        counts.destroyedInPlace += destroyedInPlace
        counts.releasedElsewhere += releasedElsewhere
        counts.reclaimedBytes = freed.bytes
        destroyedInPlace = 0
        releasedElsewhere = 0
    }

    private func reportReleasedElsewhereOnce() {
        #if DEBUG
        guard !hasReported else { return }
        hasReported = true
        var message = """
            DeferDrop: DropWorker "\(_ThreadRole.workerQueue!.name)" released a value that was still referenced \
            elsewhere, so it was not destroyed on the worker but wherever that other reference \
            ends, likely on the thread that handed it over. Hand over the last reference: \
            `deferDrop(consume value)` or `DeferDrop(consume value)` for a local you are done \
            with. (statistics.releasedElsewhere counts these; this note appears once per \
            worker, in debug builds.)

            """
        message.withUTF8 { _deferdrop_write_to_standard_error($0.baseAddress, $0.count) }
        #endif
    }
}

// MARK: What the calling thread is

/// The worker of one queue, a producer draining some queues' heads, or neither.
/// Thread-local, not a thread id per queue: every hand-off asks without the lock,
/// ids are recycled, and in a `fork()` child the forking thread is still what it was.
package enum _ThreadRole {
    /// Without reference counting.
    @inline(__always)
    static func isWorker(of queue: AnyObject) -> Bool {
        UInt(bitPattern: _deferdrop_worker_thread_queue()) == UInt(bitPattern: _address(of: queue))
    }

    static var isWorkerThread: Bool {
        _deferdrop_worker_thread_state() != nil
    }

    /// The queue the calling thread is the worker of. The worker's thread runs
    /// inside a method of its queue, which keeps it alive.
    static var workerQueue: _DropQueue? {
        _deferdrop_worker_thread_queue().map { Unmanaged<_DropQueue>.fromOpaque($0).takeUnretainedValue() }
    }

    /// For tests where the system names no threads.
    package static var workerThreadName: String? {
        workerQueue?.threadName
    }

    /// Drains may nest.
    static func draining<Result>(_ queue: AnyObject, _ body: () -> Result) -> Result {
        var drain = _deferdrop_drain()
        return withUnsafeMutablePointer(to: &drain) { drain in
            _deferdrop_begin_drain(drain, _address(of: queue))
            defer { _deferdrop_end_drain(drain) }
            return body()
        }
    }

    /// At any depth.
    static func isDraining(_ queue: AnyObject) -> Bool {
        _deferdrop_is_draining(_address(of: queue)) != 0
    }
}

// MARK: Whether a reference is the last

/// Whether a value about to be released is referenced elsewhere, so that the
/// release will not destroy it (`DropStatistics.releasedElsewhere`). Fork safety:
/// it takes no runtime lock that a `fork()` child may never get back: a class cast
/// only walks superclass pointers, and a box's held type comes from metadata, not
/// a conformance lookup.
struct _LastReferenceCheck {
    /// The metadata's address of the last object checked.
    private var lastClass: UInt = 0
    /// Whether that class is a box holding one counted reference.
    private var lastHoldsReference = false

    /// For the package's boxes, the value inside too. An address, not a
    /// reference, so no copy of it exists while the count is read.
    @inline(__always)
    mutating func isReferencedElsewhere(at address: UnsafeRawPointer) -> Bool {
        // An Objective-C object or a tagged pointer: not the Swift runtime's counts.
        guard _deferdrop_object_is_native(address) != 0 else { return false }
        if _isShared(address) { return true }
        // The first word is the class's metadata: one load tells a change of class.
        let objectClass = address.load(as: UInt.self)
        if objectClass != lastClass {
            lastClass = objectClass
            lastHoldsReference = Unmanaged<AnyObject>.fromOpaque(address)._withUnsafeGuaranteedRef { object in
                guard let box = object as? _ValueBox else { return false }
                return _deferdrop_type_is_one_counted_reference(box.heldType) != 0
            }
        }
        guard lastHoldsReference else { return false }
        // The box's first stored property, right after the header: a reference or zero.
        guard let held = address.load(fromByteOffset: _heapObjectHeaderSize, as: UnsafeRawPointer?.self),
            _deferdrop_object_is_native(held) != 0
        else { return false }
        return _isShared(held)
    }
}

/// Metadata and reference counts.
let _heapObjectHeaderSize = 2 * MemoryLayout<UnsafeRawPointer>.size

/// The one kind of object the worker looks inside. No stored property, so a
/// subclass's first, the held value, lies right after the header where
/// `_LastReferenceCheck` reads it. A class, not a protocol: a class cast takes
/// no runtime lock.
@usableFromInline
class _ValueBox {
    @usableFromInline
    init() {}

    var heldType: UnsafeRawPointer {
        fatalError("a subclass of _ValueBox says what it holds")
    }
}

/// Where counts are read, not `isKnownUniquelyReferenced`: an unoptimised build
/// keeps a copy of the reference alive across that call, so all would look shared.
@inline(__always)
func _address(of object: AnyObject) -> UnsafeRawPointer {
    UnsafeRawPointer(Unmanaged.passUnretained(object).toOpaque())
}

/// An immortal object is never shared.
@inline(__always)
func _isShared(_ address: UnsafeRawPointer) -> Bool {
    _deferdrop_object_is_uniquely_referenced(address) == 0 && _deferdrop_object_is_immortal(address) == 0
}
