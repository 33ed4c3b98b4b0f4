#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Every lock made safe across `fork()` (`_Lock.keepAcrossFork`), and the
/// `pthread_atfork` handlers that take them, let go of them and make them new.
///
/// The handlers are installed with the first such lock, so a process that
/// never defers a drop runs none. Locks are held weakly: a lock leaves the
/// list in its `deinit`.
///
/// What the prepare handler does, in order:
/// 1. It completes whatever lazily built thing a worker's thread may be
///    building at that moment: `DropWorker.shared` (a lazy global being
///    initialised by another thread when the process forks would stay "in
///    progress" for ever in the child, whose first `deferDrop` would hang) and
///    the Swift runtime's metadata on the worker's code paths
///    (`_DropQueue._warmUpCodePaths()`).
/// 2. It takes this list's own lock, so no lock is made or freed meanwhile.
/// 3. It takes every registered lock in `_LockRank` order, so no critical
///    section is in progress while memory is copied.
final class _ForkSafeLocks: Sendable {
    static let shared = _ForkSafeLocks()

    private struct Entry {
        weak var lock: (any _ForkSafeLock)?
        /// When the lock registered: the order within a rank, so that the
        /// handlers' order is the same from one fork to the next.
        let sequence: UInt64
    }

    private struct State: Sendable {
        var entries: [ObjectIdentifier: Entry] = [:]
        var nextSequence: UInt64 = 0
        /// The locks taken by the prepare handler of a fork in progress, in
        /// the order taken.
        var takenForFork: [any _ForkSafeLock] = []
    }

    /// Not registered itself: the handlers take it first and by hand.
    private let state = _Lock(State())

    private init() {
        pthread_atfork(
            { _ForkSafeLocks.shared.prepare() },
            { _ForkSafeLocks.shared.parent() },
            { _ForkSafeLocks.shared.child() })
    }

    func register(_ lock: some _ForkSafeLock) {
        state.withLock { state in
            state.entries[ObjectIdentifier(lock)] = Entry(lock: lock, sequence: state.nextSequence)
            state.nextSequence += 1
        }
    }

    /// Called from a lock's `deinit`: the lock is no longer reachable through
    /// its weak entry, so only its identity is passed.
    func unregister(_ lock: ObjectIdentifier) {
        state.withLock { _ = $0.entries.removeValue(forKey: lock) }
    }

    private func prepare() {
        _ = DropWorker.shared
        _DropQueue._warmUpCodePaths()
        state._lockForFork()
        state._withLockHeldForFork { state in
            state.takenForFork = state.entries.values
                .compactMap { entry in entry.lock.map { (lock: $0, sequence: entry.sequence) } }
                .sorted { ($0.lock._forkRank!, $0.sequence) < ($1.lock._forkRank!, $1.sequence) }
                .map(\.lock)
            for lock in state.takenForFork { lock._lockForFork() }
        }
    }

    // The list of taken locks is moved out under the lock and let go of after
    // it: it may hold the last reference to a lock whose owner went away
    // during the fork, and that lock's deinit unregisters, which takes this
    // list's lock.

    private func parent() {
        var taken: [any _ForkSafeLock] = []
        state._withLockHeldForFork { state in
            swap(&taken, &state.takenForFork)
            for lock in taken.reversed() { lock._unlockAfterForkInParent() }
        }
        state._unlockAfterForkInParent()
    }

    private func child() {
        var taken: [any _ForkSafeLock] = []
        state._reinitializeAfterForkInChild { state in
            swap(&taken, &state.takenForFork)
            for lock in taken { lock._reinitializeAfterForkInChild() }
        }
    }
}
