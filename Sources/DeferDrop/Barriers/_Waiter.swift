/// Someone waiting for the worker to reach a point in its queue: a thread in
/// `flush()` or `shutdown()`, or a task in `flush() async`. Both cases hold a
/// class reference: an inline `CheckedContinuation` would make the runtime build
/// the enum's metadata on a process's first hand-off, searching every loaded image.
enum _Waiter: Sendable {
    case thread(_Semaphore)
    case task(_SuspendedTask)

    /// Lets the waiter go on. Called exactly once, never under the queue's lock.
    func resume() {
        switch self {
        case .thread(let semaphore): semaphore.signal()
        case .task(let task): task.continuation.resume()
        }
    }

    /// Whether this is a thread waiting on `semaphore`.
    func isThread(waitingOn semaphore: _Semaphore) -> Bool {
        if case .thread(let waiting) = self { waiting === semaphore } else { false }
    }
}

/// A task suspended until the worker reaches a point: see `_Waiter`.
final class _SuspendedTask: Sendable {
    let continuation: CheckedContinuation<Void, Never>

    init(_ continuation: CheckedContinuation<Void, Never>) {
        self.continuation = continuation
    }
}
