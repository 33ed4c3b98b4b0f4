import _DeferDropShims

extension AllocatorStatistics {
    /// The process's heap now, as its allocator reports it.
    ///
    /// With jemalloc, this first hands the calling thread's cached free blocks
    /// back (`thread.tcache.flush`), then refreshes jemalloc's statistics
    /// (`epoch`), so bytes this thread freed no longer count as allocated.
    /// Blocks freed by a worker count once that worker has been flushed: a
    /// worker's `flush()` also flushes its thread's cache. Not for a hot
    /// path: with glibc, `mallinfo2()` locks every arena in turn, and on
    /// Apple platforms `malloc_zone_statistics` walks every zone.
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
        var inUse: UInt64 = 0
        var obtained: UInt64 = 0
        let allocator = Int(_deferdrop_system_allocator_statistics(&inUse, &obtained))
        let glibcVersion = _deferdrop_glibc_version().map { String(cString: $0) }
        switch (allocator, glibcVersion) {
        case (Int(DEFERDROP_ALLOCATOR_GLIBC), let version?):
            return AllocatorStatistics(backend: .glibc(version: version), allocated: inUse, mapped: obtained)
        case (Int(DEFERDROP_ALLOCATOR_DARWIN), _):
            return AllocatorStatistics(backend: .darwin, allocated: inUse, mapped: obtained)
        case (_, let version?):
            // glibc before 2.33, without mallinfo2().
            return AllocatorStatistics(backend: .glibc(version: version))
        case (_, nil):
            return AllocatorStatistics(backend: .unknown)
        }
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
