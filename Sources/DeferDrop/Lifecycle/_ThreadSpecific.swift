import _DeferDropShims

/// A thread-specific slot (a pthread key) that owns one object per thread,
/// made on first use and released when the thread exits (the main thread's,
/// never). Not a table keyed by thread id: ids are recycled at once. Only the
/// owning thread reaches its object, so the object needs no lock.
package final class _ThreadSpecific<Object: AnyObject>: Sendable {
    private let key: _deferdrop_thread_key
    private let make: @Sendable () -> Object

    /// `name` appears in the message if the process is out of keys.
    package init(_ name: String, make: @escaping @Sendable () -> Object) {
        var key = _deferdrop_thread_key()
        let result = _deferdrop_thread_key_create(&key) { raw in
            guard let raw else { return }
            Unmanaged<AnyObject>.fromOpaque(raw).release()
        }
        _precondition(result == 0, "\(name): DeferDrop could not create a thread-specific key: error \(result)")
        self.key = key
        self.make = make
    }

    /// The calling thread's object, created on first use. Unretained: the
    /// slot owns the one reference, for as long as the thread runs.
    @inline(__always)
    package var current: Unmanaged<Object> {
        if let raw = _deferdrop_thread_key_get(key) {
            return Unmanaged.fromOpaque(raw)
        }
        return makeCurrent()
    }

    @inline(never)
    private func makeCurrent() -> Unmanaged<Object> {
        let object = Unmanaged.passRetained(make())
        let result = _deferdrop_thread_key_set(key, object.toOpaque())
        _precondition(result == 0, "DeferDrop could not set a thread-specific value: error \(result)")
        return object
    }
}
