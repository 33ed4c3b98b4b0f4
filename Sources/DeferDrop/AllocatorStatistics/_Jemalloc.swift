#if Jemalloc
import CJemalloc

/// Reading jemalloc's `mallctl` namespace. Compiled with the `Jemalloc` trait only.
///
/// See jemalloc's manual, "MALLCTL NAMESPACE". The names used here:
/// `thread.deallocatedp` (a pointer to the calling thread's cumulative freed
/// bytes, which only that thread writes), `thread.tcache.flush`, `epoch`
/// (refreshes the `stats.*` snapshot), `stats.allocated`, `stats.active`,
/// `stats.resident`, `stats.mapped`, `stats.retained` and `version`.
enum _Jemalloc {
    /// A `size_t` statistic, or `nil` if this jemalloc lacks it.
    static func size(_ name: String) -> UInt64? {
        var value = 0
        var length = MemoryLayout<Int>.size
        guard _deferdrop_mallctl(name, &value, &length, nil, 0) == 0 else { return nil }
        return UInt64(value)
    }

    /// The calling thread's cumulative freed-bytes counter. Only this thread
    /// writes it, so only this thread may read it without a race.
    static func currentThreadDeallocatedCounter() -> UnsafeMutablePointer<UInt64>? {
        var pointer: UnsafeMutablePointer<UInt64>? = nil
        var length = MemoryLayout<UnsafeMutablePointer<UInt64>?>.size
        guard _deferdrop_mallctl("thread.deallocatedp", &pointer, &length, nil, 0) == 0 else { return nil }
        return pointer
    }

    /// Returns the calling thread's cached free blocks to their arenas, so that
    /// statistics no longer count them as allocated.
    static func flushCurrentThreadCache() {
        _ = _deferdrop_mallctl("thread.tcache.flush", nil, nil, nil, 0)
    }

    /// Makes the `stats.*` values current. Written as a write-only access:
    /// passing one variable as both old and new value is an overlapping access
    /// in Swift 6.
    static func refreshStatistics() {
        var epoch: UInt64 = 1
        _ = _deferdrop_mallctl("epoch", nil, nil, &epoch, MemoryLayout<UInt64>.size)
    }

    /// jemalloc's version string, such as "5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c".
    static var version: String? {
        var string: UnsafePointer<CChar>? = nil
        var length = MemoryLayout<UnsafePointer<CChar>?>.size
        guard _deferdrop_mallctl("version", &string, &length, nil, 0) == 0, let string else { return nil }
        return String(cString: string)
    }
}
#endif
