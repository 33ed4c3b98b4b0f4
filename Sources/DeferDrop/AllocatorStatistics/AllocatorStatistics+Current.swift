import _DeferDropShims

extension AllocatorStatistics {
    /// The process's heap now, as its allocator reports it.
    ///
    /// With jemalloc, this first hands the calling thread's cached free blocks
    /// back (`thread.tcache.flush`), then refreshes jemalloc's statistics
    /// (`epoch`), so bytes this thread freed no longer count as allocated.
    /// Blocks freed by a worker count once that worker has been flushed: a
    /// worker's `flush()` also flushes its thread's cache. It costs a few
    /// microseconds; with glibc, `mallinfo2()` locks every arena in turn.
    public static func current() -> AllocatorStatistics {
        #if Jemalloc
        _Jemalloc.flushCurrentThreadCache()
        _Jemalloc.refreshStatistics()
        return AllocatorStatistics(
            backend: .jemalloc(version: _Jemalloc.version ?? "unknown"),
            allocated: _Jemalloc.size("stats.allocated"),
            active: _Jemalloc.size("stats.active"),
            resident: _Jemalloc.size("stats.resident"),
            mapped: _Jemalloc.size("stats.mapped"),
            retained: _Jemalloc.size("stats.retained"))
        #else
        guard let version = _deferdrop_glibc_version() else {
            return AllocatorStatistics(backend: .unknown)
        }
        var inUse: UInt64 = 0
        var obtained: UInt64 = 0
        guard _deferdrop_glibc_malloc_info(&inUse, &obtained) == 0 else {
            return AllocatorStatistics(backend: .glibc(version: String(cString: version)))
        }
        return AllocatorStatistics(
            backend: .glibc(version: String(cString: version)), allocated: inUse, mapped: obtained)
        #endif
    }

    /// Bytes the calling thread has freed since it started, or `nil` where the
    /// allocator does not count per thread (without the `Jemalloc` trait).
    ///
    /// jemalloc's `thread.deallocated`: usable (size-class) bytes, so
    /// `malloc(100)` then `free` counts 112. Read it before and after a piece
    /// of work to see what that work freed on this thread.
    public static var bytesFreedByCurrentThread: UInt64? {
        #if Jemalloc
        return _Jemalloc.currentThreadDeallocatedCounter()?.pointee
        #else
        return nil
        #endif
    }
}
