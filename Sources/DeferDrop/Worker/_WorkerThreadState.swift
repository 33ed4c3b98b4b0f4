import _DeferDropShims

/// What a worker's thread keeps for itself while it runs: the queue it serves,
/// how deep it is in destroying nested values in place, and the counts it
/// publishes with its next batch.
///
/// Why thread-local: a hand-off has to know whether it comes from a destructor
/// that its own worker is running (which destroys the value right there, as the
/// Rust crate does), and a thread-local load answers that without the queue's
/// lock (`_ThreadRole`). The worker's thread creates this object, reaches it
/// through thread-local storage, and releases it when it stops; no other thread ever
/// sees it, so it needs no lock and is not `Sendable`.
///
/// Its stored properties have unchecked exclusivity: only the owning thread
/// reaches them, and no access to one spans a call that could reach it again
/// (the worker releases a value only after each access has ended), so the
/// runtime's per-access bookkeeping, four calls and a thread-local lookup per
/// value destroyed, would buy nothing.
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
    /// The bytes this thread has freed since it became a worker, where the
    /// allocator counts them. Made on this thread, whose counter it reads.
    private let freed = _ThreadFreedBytes()

    private init(queueName: String) {
        self.queueName = queueName
    }

    /// Runs `body` as the worker of `queue`, on the calling thread, which
    /// `body` keeps for as long as it runs.
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

    /// Releases the worker's reference `object` (+1, taken from a chunk),
    /// which destroys the value unless a reference to it is still held
    /// elsewhere: that is counted (`DropStatistics.releasedElsewhere`), since
    /// the value is then destroyed wherever that other reference goes, not here.
    ///
    /// The reference is a raw pointer, so no copy of it exists while the
    /// count is read.
    @inline(__always)
    func release(_ object: UnsafeMutableRawPointer) {
        if lastReferenceCheck.isReferencedElsewhere(at: object) {
            releasedElsewhere += 1
        }
        Unmanaged<AnyObject>.fromOpaque(object).release()
    }

    /// Destroys `item` here and now, one level deeper, if this reference is
    /// the last one: a value handed to this worker by a destructor it is
    /// running, as the Rust crate does, so nested values go depth first.
    /// Returns whether it did (`item` is then `nil`).
    ///
    /// A value still referenced elsewhere is left for the caller to queue.
    /// Releasing it here would not destroy it: the other reference would, and
    /// if that is a stored property of the value being destroyed (a destructor
    /// that hands over a copy of its own field), it would do so as part of
    /// that destruction, one level deeper each time, uncounted: a long enough
    /// chain would overflow the stack. From the queue, the worker's reference
    /// is the last one and the worker destroys it at the top of its loop.
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

    /// In debug builds, the first time this worker releases a value still
    /// referenced elsewhere, says so on standard error, once.
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
