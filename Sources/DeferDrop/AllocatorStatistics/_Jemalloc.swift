#if Jemalloc
import CJemalloc

/// Reads jemalloc's `mallctl` namespace (its manual's "MALLCTL NAMESPACE").
enum _Jemalloc {
    /// What `name` holds, or `nil` if this jemalloc lacks it; `value`, overwritten,
    /// is of the statistic's C type exactly, or the read fails.
    private static func read<Value: BitwiseCopyable>(_ name: String, over value: Value) -> Value? {
        var value = value
        var length = MemoryLayout<Value>.size
        guard _deferdrop_mallctl(name, &value, &length, nil, 0) == 0 else { return nil }
        return value
    }

    /// A `size_t` statistic, or `nil` if this jemalloc lacks it.
    static func size(_ name: String) -> UInt64? {
        read(name, over: Int(0)).map(UInt64.init)  // size_t
    }

    /// The calling thread's freed-bytes counter. Only this thread writes it,
    /// so only this thread may read it without a race.
    static func currentThreadDeallocatedCounter() -> UnsafeMutablePointer<UInt64>? {
        read("thread.deallocatedp", over: UnsafeMutablePointer<UInt64>?.none) ?? nil
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
        (read("version", over: UnsafePointer<CChar>?.none) ?? nil).map(String.init(cString:))
    }
}
#endif
