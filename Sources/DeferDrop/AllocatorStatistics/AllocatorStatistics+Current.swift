import _DeferDropShims

extension AllocatorStatistics {
    /// The process's heap now. Not for a hot path: glibc locks every arena,
    /// Apple platforms walk every zone.
    ///
    /// With jemalloc it first flushes the calling thread's cache and refreshes
    /// the statistics; what a worker freed counts once that worker is flushed.
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

    /// Bytes the calling thread has freed since it started, in usable
    /// (size-class) bytes; `nil` without the `Jemalloc` trait.
    public static var bytesFreedByCurrentThread: UInt64? {
        #if Jemalloc
        return _Jemalloc.currentThreadDeallocatedCounter()?.pointee
        #else
        return nil
        #endif
    }
}
