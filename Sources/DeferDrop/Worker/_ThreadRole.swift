import _DeferDropShims

/// What the calling thread is to DeferDrop: the worker of one queue, a producer
/// draining some queues' heads, or neither (`_deferdrop_tls_role`). Thread-local,
/// not a thread id per queue: every hand-off asks without the lock, ids are
/// recycled, and a `fork()` child forgets the role with one store.
package enum _ThreadRole {
    /// Whether the calling thread is the worker of `queue`, without reference counting.
    @inline(__always)
    static func isWorker(of queue: AnyObject) -> Bool {
        UInt(bitPattern: _deferdrop_worker_thread_queue()) == UInt(bitPattern: _address(of: queue))
    }

    /// The index in `queues` of the queue whose worker the calling thread is.
    static func indexOfWorker(among queues: some Collection<some AnyObject>) -> Int? {
        let current = UInt(bitPattern: _deferdrop_worker_thread_queue())
        guard current != 0 else { return nil }
        return queues.enumerated().first { UInt(bitPattern: _address(of: $0.element)) == current }?.offset
    }

    /// Whether the calling thread is some worker's thread, of any queue.
    static var isWorkerThread: Bool {
        _deferdrop_worker_thread_state() != nil
    }

    /// The name the calling thread's worker gives its thread, `nil` on a thread
    /// that is no worker's (for tests where the system names no threads).
    package static var workerThreadName: String? {
        guard let queue = _deferdrop_worker_thread_queue() else { return nil }
        // The worker's thread runs inside a method of its queue, which keeps it alive.
        return Unmanaged<_DropQueue>.fromOpaque(queue).takeUnretainedValue().threadName
    }

    /// Runs `body` as the calling thread's drain of `queue`'s head, as a
    /// producer that found its worker behind; drains may nest.
    static func draining<Result>(_ queue: AnyObject, _ body: () -> Result) -> Result {
        var drain = _deferdrop_drain()
        return withUnsafeMutablePointer(to: &drain) { drain in
            _deferdrop_begin_drain(drain, _address(of: queue))
            defer { _deferdrop_end_drain(drain) }
            return body()
        }
    }

    /// Whether the calling thread is draining `queue`, at any depth: only a
    /// destructor of a value it drains can ask.
    static func isDraining(_ queue: AnyObject) -> Bool {
        _deferdrop_is_draining(_address(of: queue)) != 0
    }

    /// In the child of a `fork()`: the forking thread is no worker there, whose
    /// workers start afresh, and drains nothing.
    static func forgetInForkChild() {
        _deferdrop_forget_thread_role()
    }
}
