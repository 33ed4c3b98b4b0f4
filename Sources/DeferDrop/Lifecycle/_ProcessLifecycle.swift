import _DeferDropShims

/// Something that must act when the process exits: every `_DropQueue`.
protocol _ProcessLifecycleParticipant: AnyObject, Sendable {
    /// At a normal exit, first pass: start draining, without waiting.
    func _beginExitDrain()
    /// At a normal exit, second pass: wait for the drain begun in the first.
    func _finishExitDrain()
    /// What it would say about its state to someone who waited too long for it.
    var diagnosis: String { get }
}

/// The process-wide list of live participants, and the `atexit` handler that
/// walks it.
///
/// Why at exit: the Rust crate's values "will be silently lost" when `main`
/// returns, because the process ends with its worker mid-queue. Here `exit()`
/// (which returning from `main` calls) runs a handler that shuts every worker
/// down — each drains what it holds, and later hand-offs are destroyed inline —
/// and waits, so destructors that write files see their writes land. A
/// worker with `drainsAtExit == false` is skipped and keeps the crate's fast
/// exit. The handler is installed by the first participant, so a process
/// that never defers a drop runs none.
///
/// What happens at `fork()` is not this list's business: every lock that
/// matters there is made safe across it by itself (`_Lock.keepAcrossFork`,
/// `_ForkSafeLocks`).
final class _ProcessLifecycle: Sendable {
    static let shared = _ProcessLifecycle()

    private struct Entry {
        weak var participant: (any _ProcessLifecycleParticipant)?
        /// The participant's identity, by which it leaves the list.
        let identity: ObjectIdentifier
    }

    /// An array, not a dictionary, for the reason `_ForkSafeLocks.State` gives.
    private let entries = _Lock([Entry]())

    private init() {
        entries.keepAcrossFork(rank: .processLifecycle)
        let result = _deferdrop_at_exit { _ProcessLifecycle.shared.drainAtExit() }
        _precondition(result == 0, "DeferDrop could not install its exit handler: error \(result)")
    }

    func register(_ participant: some _ProcessLifecycleParticipant) {
        entries.withLock { $0.append(Entry(participant: participant, identity: ObjectIdentifier(participant))) }
    }

    /// Called from a participant's deinit: `participant` is no longer reachable
    /// through its weak entry, so only its identity is passed.
    func unregister(_ participant: ObjectIdentifier) {
        entries.withLock { entries in
            if let index = entries.firstIndex(where: { $0.identity == participant }) { entries.remove(at: index) }
        }
    }

    /// Every live participant's diagnosis, one paragraph each.
    var diagnoses: [String] {
        entries.withLock { $0 }.compactMap { $0.participant?.diagnosis }
    }

    /// Every participant begins its drain, then each is waited for, so all
    /// workers drain at once.
    ///
    /// It walks a copy of the list, whose type registering has already
    /// built, and builds no new array: building generic metadata for the
    /// first time allocates and frees, and at exit other libraries'
    /// allocator hooks may already be half torn down (a malloc interposer's
    /// are). A participant that ends meanwhile is skipped.
    private func drainAtExit() {
        let entries = entries.withLock { $0 }
        for entry in entries { entry.participant?._beginExitDrain() }
        for entry in entries { entry.participant?._finishExitDrain() }
    }
}
