import _DeferDropShims

/// What a worker's thread keeps for itself while it runs, reached through
/// thread-local storage so a hand-off can tell without the queue's lock whether
/// its own worker runs it (`_ThreadRole`). Only that thread sees it: no lock.
/// `@exclusivity(unchecked)`: only the owning thread reaches the properties, and
/// no access spans a call that could reach them again.
final class _WorkerThreadState {
    /// The queue's name, for the one debug report.
    private let queueName: String
    /// How many in-place destructions are under way on this thread, one inside another.
    @exclusivity(unchecked) private(set) var nestingDepth = 0
    /// Values destroyed in place since the worker last published its counts.
    @exclusivity(unchecked) private var destroyedInPlace: UInt64 = 0
    /// Values released while still referenced elsewhere, since the last publication.
    @exclusivity(unchecked) private var releasedElsewhere: UInt64 = 0
    /// Whether the debug report about `releasedElsewhere` has been printed.
    @exclusivity(unchecked) private var hasReported = false
    @exclusivity(unchecked) private var lastReferenceCheck = _LastReferenceCheck()
    /// The bytes this thread has freed as a worker, where the allocator counts
    /// them; made on this thread, whose counter it reads.
    private let freed = _ThreadFreedBytes()

    private init(queueName: String) {
        self.queueName = queueName
    }

    /// Runs `body` as the worker of `queue`, on the calling thread.
    static func run(asWorkerOf queue: AnyObject, named name: String, _ body: (_WorkerThreadState) -> Void) {
        let state = _WorkerThreadState(queueName: name)
        withExtendedLifetime(state) {
            _deferdrop_set_worker_thread(_address(of: queue), Unmanaged.passUnretained(state).toOpaque())
            defer { _deferdrop_set_worker_thread(nil, nil) }
            body(state)
        }
    }

    /// The calling thread's state; only on a worker's thread.
    static var current: _WorkerThreadState {
        Unmanaged<_WorkerThreadState>.fromOpaque(_deferdrop_worker_thread_state()!).takeUnretainedValue()
    }

    /// The calling thread's nesting depth, 0 on a thread that is no worker's.
    static var currentNestingDepth: Int {
        _ThreadRole.isWorkerThread ? current.nestingDepth : 0
    }

    /// Releases the worker's reference `object` (+1, from a chunk), counting it in
    /// `DropStatistics.releasedElsewhere` if another reference remains; a raw
    /// pointer, so no copy of it exists while the count is read.
    @inline(__always)
    func release(_ object: UnsafeMutableRawPointer) {
        if lastReferenceCheck.isReferencedElsewhere(at: object) {
            releasedElsewhere += 1
        }
        Unmanaged<AnyObject>.fromOpaque(object).release()
    }

    /// Destroys `item` here, one level deeper, if this is its last reference (so
    /// nested values go depth first); returns whether it did. A value referenced
    /// elsewhere is left for the caller to queue: if that reference is a field of
    /// the value being destroyed, releasing here would recurse uncounted, deep
    /// enough to overflow the stack.
    func destroyInPlaceIfLastReference(_ item: inout _DisposalItem?) -> Bool {
        let object = _address(of: item!.object)
        if lastReferenceCheck.isReferencedElsewhere(at: object) { return false }
        nestingDepth += 1
        item = nil
        nestingDepth -= 1
        destroyedInPlace += 1
        return true
    }

    /// Adds the counts gathered since the last call to `counts`, and the
    /// bytes freed so far, for the worker to publish.
    func takeCounts(into counts: inout _Counts) {
        if releasedElsewhere > 0 { reportReleasedElsewhereOnce() }
        counts.destroyedInPlace += destroyedInPlace
        counts.releasedElsewhere += releasedElsewhere
        counts.reclaimedBytes = freed.bytes
        destroyedInPlace = 0
        releasedElsewhere = 0
    }

    /// In debug builds, says once on standard error that a value was released elsewhere.
    private func reportReleasedElsewhereOnce() {
        #if DEBUG
        guard !hasReported else { return }
        hasReported = true
        let message = """
            DeferDrop: DropWorker "\(queueName)" released a value that was still referenced \
            elsewhere, so it was not destroyed on the worker but wherever that other reference \
            ends, likely on the thread that handed it over. Hand over the last reference: \
            `deferDrop(consume value)` or `DeferDrop(consume value)` for a local you are done \
            with. (statistics.releasedElsewhere counts these; this note appears once per \
            worker, in debug builds.)

            """
        let bytes = Array(message.utf8)
        bytes.withUnsafeBytes { _deferdrop_write_to_standard_error($0.baseAddress!, $0.count) }
        #endif
    }
}

// MARK: What the calling thread is

/// What the calling thread is to DeferDrop: the worker of one queue, a producer
/// draining some queues' heads, or neither (`_deferdrop_tls_role`). Thread-local,
/// not a thread id per queue: every hand-off asks without the lock, ids are
/// recycled, and a `fork()` child forgets the role with one store.
package enum _ThreadRole {
    /// Whether the calling thread is the worker of `queue`, without reference counting.
    @inline(__always)
    static func isWorker(of queue: AnyObject) -> Bool {
        UInt(bitPattern: _deferdrop_worker_thread_queue()) == UInt(bitPattern: _address(of: queue))
    }

    /// The index in `queues` of the queue whose worker the calling thread is.
    static func indexOfWorker(among queues: some Collection<some AnyObject>) -> Int? {
        let current = UInt(bitPattern: _deferdrop_worker_thread_queue())
        guard current != 0 else { return nil }
        return queues.enumerated().first { UInt(bitPattern: _address(of: $0.element)) == current }?.offset
    }

    /// Whether the calling thread is some worker's thread, of any queue.
    static var isWorkerThread: Bool {
        _deferdrop_worker_thread_state() != nil
    }

    /// The name the calling thread's worker gives its thread, `nil` on a thread
    /// that is no worker's (for tests where the system names no threads).
    package static var workerThreadName: String? {
        guard let queue = _deferdrop_worker_thread_queue() else { return nil }
        // The worker's thread runs inside a method of its queue, which keeps it alive.
        return Unmanaged<_DropQueue>.fromOpaque(queue).takeUnretainedValue().threadName
    }

    /// Runs `body` as the calling thread's drain of `queue`'s head, as a
    /// producer that found its worker behind; drains may nest.
    static func draining<Result>(_ queue: AnyObject, _ body: () -> Result) -> Result {
        var drain = _deferdrop_drain()
        return withUnsafeMutablePointer(to: &drain) { drain in
            _deferdrop_begin_drain(drain, _address(of: queue))
            defer { _deferdrop_end_drain(drain) }
            return body()
        }
    }

    /// Whether the calling thread is draining `queue`, at any depth: only a
    /// destructor of a value it drains can ask.
    static func isDraining(_ queue: AnyObject) -> Bool {
        _deferdrop_is_draining(_address(of: queue)) != 0
    }

    /// In the child of a `fork()`: the forking thread is no worker there, whose
    /// workers start afresh, and drains nothing.
    static func forgetInForkChild() {
        _deferdrop_forget_thread_role()
    }
}

// MARK: Whether a reference is the last

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
