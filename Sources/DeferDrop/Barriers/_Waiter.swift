/// Someone waiting for the worker to reach a point in its queue: a thread
/// blocked in `flush()` or `shutdown()`, or a task suspended in `flush() async`.
enum _Waiter: Sendable {
    case thread(_Semaphore)
    case task(CheckedContinuation<Void, Never>)

    /// Lets the waiter go on. Called exactly once, never under the queue's lock.
    func resume() {
        switch self {
        case .thread(let semaphore): semaphore.signal()
        case .task(let continuation): continuation.resume()
        }
    }

    /// Whether this is a thread waiting on `semaphore`.
    func isThread(waitingOn semaphore: _Semaphore) -> Bool {
        if case .thread(let waiting) = self { waiting === semaphore } else { false }
    }
}
