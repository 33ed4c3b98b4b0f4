/// The bytes the calling thread has freed since this value was made, where the
/// allocator counts them per thread (the `Jemalloc` trait).
///
/// Not `Sendable`: its thread writes the counter unsynchronised, so only that
/// thread may read it; a worker publishes its figure under its lock.
struct _ThreadFreedBytes {
    #if Jemalloc
    static var isAvailable: Bool { true }
    private let counter = _Jemalloc.currentThreadDeallocatedCounter()
    private let baseline: UInt64

    init() {
        baseline = counter?.pointee ?? 0
    }

    /// Read on the thread that made this value only.
    var bytes: UInt64? {
        counter.map { $0.pointee &- baseline }
    }

    /// Returns the calling thread's cached blocks, so statistics stop counting
    /// them as allocated.
    static func flushCurrentThreadCache() {
        _Jemalloc.flushCurrentThreadCache()
    }
    #else
    static var isAvailable: Bool { false }
    var bytes: UInt64? { nil }
    static func flushCurrentThreadCache() {}
    #endif
}
