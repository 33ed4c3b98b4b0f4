#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

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
    }

    private struct State: Sendable {
        var entries: [ObjectIdentifier: Entry] = [:]
    }

    private let state = _Lock(State())

    private init() {
        state.keepAcrossFork(rank: .processLifecycle)
        // Run the exit handler's own list-building once now, on a stand-in,
        // so that at exit it needs no runtime metadata it does not already
        // have. Building generic metadata for the first time allocates and
        // frees, and at exit other libraries' allocator hooks may already be
        // half torn down (malloc-interposer 1.6.1 crashed the benchmarks there).
        let standIn = _StandIn()
        state.withLock { $0.entries[ObjectIdentifier(standIn)] = Entry(participant: standIn) }
        _ = liveParticipants
        state.withLock { _ = $0.entries.removeValue(forKey: ObjectIdentifier(standIn)) }

        atexit { _ProcessLifecycle.shared.drainAtExit() }
    }

    func register(_ participant: some _ProcessLifecycleParticipant) {
        state.withLock { $0.entries[ObjectIdentifier(participant)] = Entry(participant: participant) }
    }

    /// Called from a participant's deinit: `participant` is no longer reachable
    /// through its weak entry, so only its identity is passed.
    func unregister(_ participant: ObjectIdentifier) {
        state.withLock { _ = $0.entries.removeValue(forKey: participant) }
    }

    private var liveParticipants: [any _ProcessLifecycleParticipant] {
        state.withLock { $0.entries.values.compactMap(\.participant) }
    }

    /// Every live participant's diagnosis, one paragraph each.
    var diagnoses: [String] {
        liveParticipants.map(\.diagnosis)
    }

    /// Every participant begins its drain, then each is waited for, so all
    /// workers drain at once.
    private func drainAtExit() {
        let participants = liveParticipants
        for participant in participants { participant._beginExitDrain() }
        for participant in participants { participant._finishExitDrain() }
    }
}

/// A participant that does nothing: see `_ProcessLifecycle.init()`.
private final class _StandIn: _ProcessLifecycleParticipant {
    func _beginExitDrain() {}
    func _finishExitDrain() {}
    var diagnosis: String { "" }
}
