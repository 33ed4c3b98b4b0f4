extension _Lock where State: ~Copyable {
    /// Makes this lock safe across `fork()`, for as long as it lives.
    ///
    /// Why the lock, and not its owner, handles the fork: the child of a
    /// `fork()` has one thread, the one that forked. A mutex another thread
    /// held at that moment stays held for ever in the child, and state that
    /// thread was halfway through changing stays half changed. So the prepare
    /// handler takes every registered lock, in `rank` order, before memory is
    /// copied; the parent lets go of them; the child makes each mutex new and
    /// runs `inChild` on its state, to forget what belonged to threads the
    /// child does not have. An owner says what its state must forget and
    /// where its lock stands in the hierarchy; it writes no fork handler.
    ///
    /// Call it once, from the owner's initializer, before the lock is shared.
    /// `inChild` runs in the child alone, with no other thread left: it must
    /// not take any lock, and it must not reach the owner strongly, which may
    /// have been halfway through its `deinit` in the parent (capture it
    /// `weak`).
    package func keepAcrossFork(rank: _LockRank, inChild: @escaping @Sendable (inout State) -> Void = { _ in }) {
        _precondition(_forkRank == nil, "keepAcrossFork(rank: \(rank)) called twice on one lock")
        _forkRank = rank
        _inForkChild = inChild
        _ForkSafeLocks.shared.register(self)
    }
}

/// A `_Lock` of any state, as the fork handlers see it.
protocol _ForkSafeLock: AnyObject, Sendable {
    var _forkRank: _LockRank? { get }
    func _lockForFork()
    func _unlockAfterForkInParent()
    /// Makes the mutex new and runs the lock's `inChild` on its state.
    func _reinitializeAfterForkInChild()
}

extension _Lock: _ForkSafeLock where State: ~Copyable {
    func _reinitializeAfterForkInChild() {
        let inChild = _inForkChild!
        _reinitializeAfterForkInChild { inChild(&$0) }
    }
}
