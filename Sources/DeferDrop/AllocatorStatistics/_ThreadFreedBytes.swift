/// The bytes the calling thread has freed since this value was made, where the
/// allocator counts them per thread (jemalloc, with the `Jemalloc` trait).
///
/// Not `Sendable`: jemalloc's counter is written by its thread without
/// synchronisation, so only that thread may read it. A worker reads its own and
/// publishes the figure under its lock.
struct _ThreadFreedBytes {
    #if Jemalloc
    private let counter: UnsafeMutablePointer<UInt64>?
    private let baseline: UInt64
    #endif

    /// Whether this build can count freed bytes per thread.
    static var isAvailable: Bool {
        #if Jemalloc
        return true
        #else
        return false
        #endif
    }

    /// Starts counting on the calling thread.
    init() {
        #if Jemalloc
        counter = _Jemalloc.currentThreadDeallocatedCounter()
        baseline = counter?.pointee ?? 0
        #endif
    }

    /// Bytes freed on the calling thread, which must be the one that made this
    /// value, since then; `nil` where the allocator does not count them.
    var bytes: UInt64? {
        #if Jemalloc
        guard let counter else { return nil }
        return counter.pointee &- baseline
        #else
        return nil
        #endif
    }

    /// Hands the calling thread's cached free blocks back to the allocator, so
    /// process-wide statistics stop counting them as allocated. A no-op where
    /// there is nothing to flush.
    static func flushCurrentThreadCache() {
        #if Jemalloc
        _Jemalloc.flushCurrentThreadCache()
        #endif
    }
}
