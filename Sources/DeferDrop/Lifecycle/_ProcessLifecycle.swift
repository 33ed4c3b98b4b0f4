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
/// walks it: at `exit()` every worker drains what it holds (later hand-offs
/// are destroyed inline) and is waited for, so destructors' effects land.
/// Workers with `drainsAtExit == false` are skipped; the first participant
/// installs the handler. `fork()` safety is each lock's own (`keepAcrossFork`).
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

    /// From a participant's deinit, when its weak entry is already `nil`.
    func unregister(_ participant: ObjectIdentifier) {
        entries.withLock { entries in
            if let index = entries.firstIndex(where: { $0.identity == participant }) { entries.remove(at: index) }
        }
    }

    /// Every live participant's diagnosis, one paragraph each.
    var diagnoses: [String] {
        entries.withLock { $0 }.compactMap { $0.participant?.diagnosis }
    }

    /// Every participant begins its drain, then each is waited for, so all drain
    /// at once. It walks a copy of the list and builds no new generic type: first
    /// use of metadata allocates, and at exit an allocator interposer may be half
    /// torn down.
    private func drainAtExit() {
        let entries = entries.withLock { $0 }
        for entry in entries { entry.participant?._beginExitDrain() }
        for entry in entries { entry.participant?._finishExitDrain() }
    }
}
