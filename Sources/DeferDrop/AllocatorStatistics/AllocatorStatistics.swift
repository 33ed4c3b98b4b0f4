/// A snapshot of the process's heap, as its allocator reports it.
///
/// Memory stays allocated until a worker has freed it: compare snapshots to
/// see that (<doc:AllocatorStatisticsArticle>). With the package trait
/// `Jemalloc` every field is known, in usable (size-class) bytes; without it,
/// glibc and Apple platforms report ``allocated`` and ``mapped``, and other
/// systems nothing. A field that is not known is `nil`, never an estimate.
public struct AllocatorStatistics: Sendable, Hashable {
    /// The allocator that produced a snapshot.
    public enum Backend: Sendable, Hashable {
        /// jemalloc, linked through the `Jemalloc` trait, and its version.
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

    /// Bytes in allocations the program holds: jemalloc's `stats.allocated`,
    /// after flushing the calling thread's cache; glibc's `uordblks + hblkhd`,
    /// which counts blocks in its thread caches as in use; the zones' `size_in_use`.
    public var allocated: UInt64?

    /// Bytes in pages that hold allocations, jemalloc's `stats.active`.
    public var active: UInt64?

    /// Bytes of physical memory in the allocator's pages, jemalloc's `stats.resident`.
    public var resident: UInt64?

    /// Bytes mapped from the system and not returned: jemalloc's
    /// `stats.mapped`, glibc's `arena + hblkhd`, the zones' `size_allocated`.
    public var mapped: UInt64?

    /// Virtual memory jemalloc keeps mapped but has released to the system,
    /// `stats.retained`.
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
