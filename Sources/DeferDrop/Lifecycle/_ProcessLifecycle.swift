#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Something that must act when the process exits or forks: every
/// `_DropQueue`, and the pools' shard assignments.
package protocol _ProcessLifecycleParticipant: AnyObject, Sendable {
    /// At a normal exit, first pass: start draining, without waiting.
    func _beginExitDrain()
    /// At a normal exit, second pass: wait for the drain begun in the first.
    func _finishExitDrain()
    /// Before `fork()`: take the participant's lock (see `_Lock._lockForFork()`).
    func _prepareForFork()
    /// In the parent after `fork()`: release that lock.
    func _parentAfterFork()
    /// In the child after `fork()`: make the lock new and forget the threads
    /// that the child does not have.
    func _childAfterFork()
}

extension _ProcessLifecycleParticipant {
    package func _beginExitDrain() {}
    package func _finishExitDrain() {}
}

/// The process-wide list of live participants, and the `atexit` and
/// `pthread_atfork` handlers that walk it.
///
/// Why at exit: the Rust crate's values "will be silently lost" when `main`
/// returns, because the process ends with its worker mid-queue. Here `exit()`
/// (which returning from `main` calls) runs a handler that shuts every worker
/// down — each drains what it holds, and later hand-offs are destroyed inline —
/// and waits, so destructors that write files see their writes land. A
/// worker with `drainsAtExit == false` is skipped and keeps the crate's fast
/// exit. The handlers are installed by the first participant, so a process
/// that never defers a drop runs none.
///
/// Why at fork: the child of a `fork()` has one thread, the one that forked.
/// A worker's thread is gone there, and a lock some other thread held at that
/// moment would stay locked for ever. The prepare handler takes this list's
/// lock and then every participant's, so no critical section is in progress
/// while memory is copied; the parent lets go of them; the child makes them
/// new and resets each worker to "no thread yet", so its next hand-off starts
/// one (values still queued are the child's copies, and the new thread
/// destroys them too).
///
/// The prepare handler also completes the initialisation of `DropWorker.shared`
/// first: a lazy global being initialised by another thread at the moment of
/// the fork would otherwise stay half-initialised in the child for ever.
///
/// Lock order: this list's lock, then a participant's. Nothing takes this
/// list's lock while holding a participant's: participants register in their
/// initializers and leave in their deinitializers.
package final class _ProcessLifecycle: Sendable {
    package static let shared = _ProcessLifecycle()

    private struct Entry {
        weak var participant: (any _ProcessLifecycleParticipant)?
    }

    private struct State: Sendable {
        var entries: [ObjectIdentifier: Entry] = [:]
        /// The participants locked by the prepare handler of a fork in progress.
        var lockedForFork: [any _ProcessLifecycleParticipant] = []
    }

    private let state = _Lock(State())

    private init() {
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
        pthread_atfork(
            { _ProcessLifecycle.shared.prepareForFork() },
            { _ProcessLifecycle.shared.parentAfterFork() },
            { _ProcessLifecycle.shared.childAfterFork() })
    }

    /// Runs `body` while no `fork()` can be under way: the fork's prepare
    /// handler takes this list's lock first. For work that takes the Swift
    /// runtime's own locks (a first dynamic cast to a protocol, say) on a
    /// worker's thread, which could otherwise hold one of them at the moment
    /// of a fork and leave it held for ever in the child. `body` must not
    /// register, unregister, or take a participant's lock.
    package func excludingFork<Result>(_ body: () -> Result) -> Result {
        state.withLock { _ in body() }
    }

    package func register(_ participant: some _ProcessLifecycleParticipant) {
        state.withLock { $0.entries[ObjectIdentifier(participant)] = Entry(participant: participant) }
    }

    /// Called from a participant's deinit: `participant` is no longer reachable
    /// through its weak entry, so only its identity is passed.
    package func unregister(_ participant: ObjectIdentifier) {
        state.withLock { _ = $0.entries.removeValue(forKey: participant) }
    }

    private var liveParticipants: [any _ProcessLifecycleParticipant] {
        state.withLock { $0.entries.values.compactMap(\.participant) }
    }

    /// Every participant begins its drain, then each is waited for, so all
    /// workers drain at once.
    private func drainAtExit() {
        let participants = liveParticipants
        for participant in participants { participant._beginExitDrain() }
        for participant in participants { participant._finishExitDrain() }
    }

    private func prepareForFork() {
        // A lazy global whose initialisation is in progress on another thread
        // when the process forks stays "in progress" for ever in the child,
        // where that thread does not exist: the child's first `deferDrop`
        // would hang. Finish (or wait for) the shared worker's initialisation
        // first, before taking any lock it needs.
        _ = DropWorker.shared
        // The same holds for the Swift runtime's lazily built metadata and
        // witness tables, which a worker may be building the first time it
        // destroys a batch: run the worker's code paths once here, so the
        // child never inherits them half-built.
        _DropQueue._warmUpCodePaths()
        state._lockForFork()
        state._withLockHeldForFork { state in
            state.lockedForFork = state.entries.values.compactMap(\.participant)
            for participant in state.lockedForFork { participant._prepareForFork() }
        }
    }

    // The list of locked participants is moved out under the lock and let go
    // of after it: it may hold the last reference to a participant whose
    // owner went away during the fork, and that participant's deinit
    // unregisters, which takes this list's lock.

    private func parentAfterFork() {
        var participants: [any _ProcessLifecycleParticipant] = []
        state._withLockHeldForFork { state in
            swap(&participants, &state.lockedForFork)
            for participant in participants.reversed() { participant._parentAfterFork() }
        }
        state._unlockAfterForkInParent()
    }

    private func childAfterFork() {
        var participants: [any _ProcessLifecycleParticipant] = []
        state._reinitializeAfterForkInChild { state in
            swap(&participants, &state.lockedForFork)
            for participant in participants { participant._childAfterFork() }
        }
    }
}

/// A participant that does nothing: see `_ProcessLifecycle.init()`.
private final class _StandIn: _ProcessLifecycleParticipant {
    func _prepareForFork() {}
    func _parentAfterFork() {}
    func _childAfterFork() {}
}
