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
