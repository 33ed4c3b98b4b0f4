import _DeferDropShims

/// A mutex that owns the state it protects, over the platform layer's mutex
/// (`_deferdrop_mutex`: adaptive on glibc, `os_unfair_lock` on Darwin).
/// Not `Synchronization.Mutex`: on Linux it is a priority-inheritance futex,
/// which hands the lock to a sleeping waiter and convoys the queue, where
/// sections this short want a running thread to barge in.
package final class _Lock<State: ~Copyable & Sendable>: @unchecked Sendable {
    // @unchecked Sendable: the state is reached only under the mutex and is itself
    // `Sendable`. The fork fields are written once, before the registry's lock
    // publishes the registration, and then only read.

    /// The mutex, then the state, alone on their own cache lines: the producer and
    /// the worker both write them, and a neighbour there would bounce between cores.
    private let storage: UnsafeMutableRawPointer
    private let mutex: UnsafeMutablePointer<_deferdrop_mutex>
    // Through a pointer, so the runtime's dynamic exclusivity check does not
    // apply: the mutex already makes every access exclusive.
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
    /// within `attempts` tries without sleeping; returns `nil` if not. For a caller
    /// that would rather do other work than wait on a preempted holder.
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

    // MARK: fork(), for `_ForkSafeLocks` (`_Fork.swift`)

    /// Where the fork handlers take this lock, `nil` if they leave it alone.
    var _forkRank: _LockRank?
    /// What the child of a `fork()` does to the state once the lock is new.
    var _inForkChild: (@Sendable (inout State) -> Void)?

    /// Takes the mutex and keeps it across a `fork()`, so that the child's copy of
    /// the state is not halfway through a critical section.
    func _lockForFork() {
        _deferdrop_mutex_lock(mutex)
    }

    /// Runs `body` on the state under the mutex taken by `_lockForFork()`.
    func _withLockHeldForFork<Result>(_ body: (inout State) -> Result) -> Result {
        body(&state.pointee)
    }

    /// In the parent after `fork()`: lets go of the mutex taken by `_lockForFork()`.
    func _unlockAfterForkInParent() {
        _deferdrop_mutex_unlock(mutex)
    }

    /// In the child after `fork()`: makes the mutex new (its holder is gone) and
    /// lets `body` fix up the state for a process whose other threads are gone.
    func _reinitializeAfterForkInChild(_ body: (inout State) -> Void) {
        Self.initializeMutex(mutex)
        body(&state.pointee)
    }

    private static func roundUp(_ value: Int, to multiple: Int) -> Int {
        (value + multiple - 1) / multiple * multiple
    }
}
