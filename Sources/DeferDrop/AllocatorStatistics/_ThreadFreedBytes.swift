/// The bytes the calling thread has freed since this value was made, where the
/// allocator counts them per thread (the `Jemalloc` trait).
///
/// Not `Sendable`: its thread writes the counter unsynchronised, so only that
/// thread may read it; a worker publishes its figure under its lock.
struct _ThreadFreedBytes {
    #if Jemalloc
    private let counter: UnsafeMutablePointer<UInt64>?
    private let baseline: UInt64
    #endif

    static var isAvailable: Bool {
        #if Jemalloc
        return true
        #else
        return false
        #endif
    }

    init() {
        #if Jemalloc
        counter = _Jemalloc.currentThreadDeallocatedCounter()
        baseline = counter?.pointee ?? 0
        #endif
    }

    /// Read on the thread that made this value only.
    var bytes: UInt64? {
        #if Jemalloc
        guard let counter else { return nil }
        return counter.pointee &- baseline
        #else
        return nil
        #endif
    }

    /// Returns the calling thread's cached blocks, so statistics stop counting
    /// them as allocated.
    static func flushCurrentThreadCache() {
        #if Jemalloc
        _Jemalloc.flushCurrentThreadCache()
        #endif
    }
}
