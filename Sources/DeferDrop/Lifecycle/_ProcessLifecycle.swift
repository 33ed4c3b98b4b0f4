import _DeferDropShims

/// The process-wide list of live queues, and the `atexit` handler that
/// walks it: at `exit()` every worker drains what it holds (later hand-offs
/// are destroyed inline) and is waited for, so destructors' effects land.
/// Workers with `drainsAtExit == false` are skipped; the first queue
/// installs the handler. `fork()` safety is each lock's own (`keepAcrossFork`).
final class _ProcessLifecycle: Sendable {
    static let shared = _ProcessLifecycle()

    private struct Entry {
        weak var queue: _DropQueue?
        /// The queue's identity, by which it leaves the list.
        let identity: ObjectIdentifier
    }

    /// An array, not a dictionary, for the reason `_ForkSafeLocks.State` gives.
    private let entries = _Lock([Entry]())

    private init() {
        entries.keepAcrossFork(rank: .processLifecycle)
        let result = _deferdrop_at_exit { _ProcessLifecycle.shared.drainAtExit() }
        _precondition(result == 0, "DeferDrop could not install its exit handler: error \(result)")
    }

    func register(_ queue: _DropQueue) {
        entries.withLock { $0.append(Entry(queue: queue, identity: ObjectIdentifier(queue))) }
    }

    /// From a queue's deinit, when its weak entry is already `nil`.
    func unregister(_ queue: ObjectIdentifier) {
        entries.withLock { entries in
            if let index = entries.firstIndex(where: { $0.identity == queue }) { entries.remove(at: index) }
        }
    }

    /// Every live queue's diagnosis, one paragraph each.
    var diagnoses: [String] {
        entries.withLock { $0 }.compactMap { $0.queue?.diagnosis }
    }

    /// Every queue begins its drain, then each is waited for, so all drain
    /// at once. It walks a copy of the list: a drain runs destructors, and one
    /// that makes a worker registers its queue here.
    private func drainAtExit() {
        let entries = entries.withLock { $0 }
        for entry in entries { entry.queue?.shutdownAtExit(wait: false) }
        for entry in entries { entry.queue?.shutdownAtExit(wait: true) }
    }
}
