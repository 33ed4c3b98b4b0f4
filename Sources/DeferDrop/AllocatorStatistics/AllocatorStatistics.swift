/// A snapshot of the process's heap, as its allocator reports it.
///
/// Deferring a drop moves work, it does not remove it: memory stays allocated
/// until a worker has freed it. Compare snapshots to see that, and
/// ``DropStatistics/reclaimedBytes`` to see what each worker gave back.
///
/// ```swift
/// let before = AllocatorStatistics.current()
/// deferDrop(consume table)
/// DropWorker.shared.flush()
/// let after = AllocatorStatistics.current()
/// // after.allocated is lower by about the table's size
/// ```
///
/// What is known depends on the build:
/// - With the package trait `Jemalloc`, jemalloc allocates for the whole
///   process and reports every field exactly, in usable (size-class) bytes.
/// - Without it, glibc's `mallinfo2()` on Linux and `malloc_zone_statistics`
///   over every zone on Apple platforms report ``allocated`` and ``mapped``;
///   the fields they cannot report are `nil`, never estimates.
/// - Elsewhere (musl, the POSIX-only platform layer) every byte count is `nil`.
public struct AllocatorStatistics: Sendable, Hashable {
    /// The allocator that produced a snapshot.
    public enum Backend: Sendable, Hashable {
        /// jemalloc, linked through the `Jemalloc` trait. Its version, such as `"5.3.0-0-g54eaed1d…"`.
        case jemalloc(version: String)
        /// glibc's malloc. Its version, such as `"2.36"`.
        case glibc(version: String)
        /// The malloc of Apple platforms, through `malloc_zone_statistics`.
        case darwin
        /// An allocator this package cannot query.
        case unknown
    }

    /// Which allocator produced these figures.
    public var backend: Backend

    /// Bytes in allocations the program holds.
    ///
    /// jemalloc: `stats.allocated`, after the calling thread's cache is flushed
    /// (jemalloc counts blocks parked in thread caches as allocated). glibc:
    /// `uordblks + hblkhd` from `mallinfo2()`, which counts freed blocks in
    /// its per-thread caches as still in use. Apple platforms: the zones'
    /// `size_in_use`.
    public var allocated: UInt64?

    /// Bytes in pages that hold allocations (jemalloc's `stats.active`): a
    /// multiple of the page size, at least ``allocated``. `nil` with glibc.
    public var active: UInt64?

    /// Bytes of physical memory the allocator's pages occupy (jemalloc's
    /// `stats.resident`). `nil` with glibc.
    public var resident: UInt64?

    /// Bytes the allocator has mapped from the system and not returned.
    ///
    /// jemalloc: `stats.mapped`. glibc: `arena + hblkhd` from `mallinfo2()`,
    /// the heap obtained with `brk` and `mmap`. Apple platforms: the zones'
    /// `size_allocated`.
    public var mapped: UInt64?

    /// Bytes jemalloc keeps mapped but has released to the system for reuse
    /// (`stats.retained`): virtual memory, not physical. `nil` with glibc.
    public var retained: UInt64?

    /// Creates a snapshot from known figures.
    public init(
        backend: Backend,
        allocated: UInt64? = nil,
        active: UInt64? = nil,
        resident: UInt64? = nil,
        mapped: UInt64? = nil,
        retained: UInt64? = nil
    ) {
        self.backend = backend
        self.allocated = allocated
        self.active = active
        self.resident = resident
        self.mapped = mapped
        self.retained = retained
    }
}
