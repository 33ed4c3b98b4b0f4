import _DeferDropShims

/// A mutex that owns the state it protects, over the platform layer's mutex
/// (`_deferdrop_mutex`: adaptive on Linux with glibc, `os_unfair_lock` on Darwin).
///
/// Why not the standard library's `Synchronization.Mutex`: on Linux it is a
/// priority-inheritance futex (`FUTEX_LOCK_PI`). Under contention every
/// acquisition goes through the kernel's rt-mutex hand-over, which passes the
/// lock to a sleeping thread rather than let a running one take it, and the
/// queue convoys (Docs/Architecture.md has the figures). A queue whose
/// critical sections are a few stores wants the opposite trade:
/// let a running thread barge in, as both of the layer's mutexes do.
/// `package` so that the package's other modules share it.
package final class _Lock<State: ~Copyable & Sendable>: @unchecked Sendable {
    // @unchecked Sendable: the state is only reached through `withLock`, which
    // holds the mutex for the whole access, the mutex is made to be shared,
    // and the state itself may cross threads (it is `Sendable`). The two fork
    // fields are written once, by `keepAcrossFork` before the registry's lock
    // publishes the registration, and then only read, by the fork handlers
    // under that same lock, and by `deinit`, which no other thread can race.

    /// The mutex, then the state, alone on their own cache lines: the producer
    /// and the worker both write them, and anything else sharing their lines
    /// (a neighbouring object's reference count, say) would bounce between the
    /// two cores with every hand-off: the producer's retains of the worker's
    /// objects would invalidate the line the worker locks.
    private let storage: UnsafeMutableRawPointer
    private let mutex: UnsafeMutablePointer<_deferdrop_mutex>
    // Reached through a pointer, so the runtime's dynamic exclusivity check
    // (two calls into a thread-local access set per critical section, a
    // measurable part of a hand-off) does not apply: the mutex already makes
    // every access exclusive.
    private let state: UnsafeMutablePointer<State>

    package init(_ state: consuming State) {
        let cacheLine = Int(DEFERDROP_CACHE_LINE)
        let stateOffset = Self.roundUp(MemoryLayout<_deferdrop_mutex>.stride, to: MemoryLayout<State>.alignment)
        storage = .allocate(
            byteCount: Self.roundUp(stateOffset + MemoryLayout<State>.size, to: cacheLine),
            alignment: max(cacheLine, MemoryLayout<State>.alignment))
        mutex = storage.bindMemory(to: _deferdrop_mutex.self, capacity: 1)
        self.state = (storage + stateOffset).bindMemory(to: State.self, capacity: 1)
        self.state.initialize(to: state)

        Self.initializeMutex(mutex)
    }

    private static func initializeMutex(_ mutex: UnsafeMutablePointer<_deferdrop_mutex>) {
        let result = _deferdrop_mutex_init(mutex)
        _precondition(result == 0, "DeferDrop could not initialize a mutex: error \(result)")
    }

    deinit {
        if _forkRank != nil { _ForkSafeLocks.shared.unregister(ObjectIdentifier(self)) }
        state.deinitialize(count: 1)
        _deferdrop_mutex_destroy(mutex)
        storage.deallocate()
    }

    /// Runs `body` with exclusive access to the state.
    @inline(__always)
    package func withLock<Result: ~Copyable>(_ body: (inout State) throws -> Result) rethrows -> Result {
        _deferdrop_mutex_lock(mutex)
        defer { _deferdrop_mutex_unlock(mutex) }
        return try body(&state.pointee)
    }

    /// Runs `body` with exclusive access to the state if the mutex can be had
    /// within `attempts` tries without sleeping; returns `nil` if it could not.
    ///
    /// For a caller that has something better to do than wait: a holder that
    /// is running leaves a section this short within a few tries, while one
    /// that was preempted inside it (a worker at `SCHED_IDLE` on a busy
    /// machine) may not run again for milliseconds.
    @inline(__always)
    package func withLockIfAvailable<Result: ~Copyable>(
        attempts: Int, _ body: (inout State) throws -> Result
    ) rethrows -> Result? {
        var attempt = 0
        while _deferdrop_mutex_try_lock(mutex) == 0 {
            attempt += 1
            if attempt == attempts { return nil }
        }
        defer { _deferdrop_mutex_unlock(mutex) }
        return try body(&state.pointee)
    }

    // MARK: fork()
    //
    // Used by `_ForkSafeLocks` only, for locks registered with
    // `keepAcrossFork(rank:inChild:)` (see `_Fork.swift`).

    /// Where the fork handlers take this lock, `nil` if they leave it alone.
    var _forkRank: _LockRank?
    /// What the child of a `fork()` does to the state once the lock is new.
    var _inForkChild: (@Sendable (inout State) -> Void)?

    /// Takes the mutex and keeps it across a `fork()`, so that the child's copy
    /// of the state is consistent: no other thread can be halfway through a
    /// critical section when the process is copied.
    func _lockForFork() {
        _deferdrop_mutex_lock(mutex)
    }

    /// Runs `body` on the state while the caller holds the mutex through
    /// `_lockForFork()`.
    func _withLockHeldForFork<Result>(_ body: (inout State) -> Result) -> Result {
        body(&state.pointee)
    }

    /// In the parent after `fork()`: lets go of the mutex taken by `_lockForFork()`.
    func _unlockAfterForkInParent() {
        _deferdrop_mutex_unlock(mutex)
    }

    /// In the child after `fork()`: the child is the forking thread alone, so
    /// the mutex (held by that thread's former self) is made new, and `body`
    /// may fix up the state for a process whose other threads are gone.
    func _reinitializeAfterForkInChild(_ body: (inout State) -> Void) {
        Self.initializeMutex(mutex)
        body(&state.pointee)
    }

    private static func roundUp(_ value: Int, to multiple: Int) -> Int {
        (value + multiple - 1) / multiple * multiple
    }
}
