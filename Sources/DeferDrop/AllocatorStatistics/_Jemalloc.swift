#if Jemalloc
import CJemalloc

/// Reads jemalloc's `mallctl` namespace (its manual's "MALLCTL NAMESPACE").
enum _Jemalloc {
    /// A `size_t` statistic, or `nil` if this jemalloc lacks it.
    static func size(_ name: String) -> UInt64? {
        var value = 0
        var length = MemoryLayout<Int>.size
        guard _deferdrop_mallctl(name, &value, &length, nil, 0) == 0 else { return nil }
        return UInt64(value)
    }

    /// The calling thread's freed-bytes counter. Only this thread writes it,
    /// so only this thread may read it without a race.
    static func currentThreadDeallocatedCounter() -> UnsafeMutablePointer<UInt64>? {
        var pointer: UnsafeMutablePointer<UInt64>? = nil
        var length = MemoryLayout<UnsafeMutablePointer<UInt64>?>.size
        guard _deferdrop_mallctl("thread.deallocatedp", &pointer, &length, nil, 0) == 0 else { return nil }
        return pointer
    }

    /// Returns the calling thread's cached blocks, which count as allocated.
    static func flushCurrentThreadCache() {
        _ = _deferdrop_mallctl("thread.tcache.flush", nil, nil, nil, 0)
    }

    /// Makes the `stats.*` values current. Write-only: one variable as both old
    /// and new value would be an overlapping access.
    static func refreshStatistics() {
        var epoch: UInt64 = 1
        _ = _deferdrop_mallctl("epoch", nil, nil, &epoch, MemoryLayout<UInt64>.size)
    }

    /// jemalloc's version string, such as "5.3.0-0-g54eaed1d…".
    static var version: String? {
        var string: UnsafePointer<CChar>? = nil
        var length = MemoryLayout<UnsafePointer<CChar>?>.size
        guard _deferdrop_mallctl("version", &string, &length, nil, 0) == 0, let string else { return nil }
        return String(cString: string)
    }
}
#endif
