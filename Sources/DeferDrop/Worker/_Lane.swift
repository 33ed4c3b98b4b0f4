import Synchronization
import _DeferDropShims

/// One producer thread's queue to one worker: the thread appends without a lock,
/// whoever holds the worker's lock collects what is published into the queue as a
/// run of positions (`Segment`), and the holder of the queue's head takes and
/// destroys the values. The ring is C (`_DeferDropLane.h`); values move in and
/// out as +1 references, never copied.
final class _Lane: @unchecked Sendable {
    // @unchecked Sendable: the C lane has one writer per part, by contract:
    // `append` only on the owning thread, `collect` only under the worker's
    // lock, `take` only by the holder of the queue's head, which the lock hands
    // on. They meet only through `published` (release/acquire) and `spare`
    // (exchanged). `owner` is written once, in `init`, and read by the owning
    // thread alone.
    let raw: UnsafeMutablePointer<_deferdrop_lane>

    /// Stored with release as the owning thread ends, read with acquire by the
    /// collector: once every value is collected, the queue may forget the lane.
    let ownerHasEnded = Atomic<Bool>(false)

    /// `_Handoff.id`, for the owning thread's table.
    let queue: UInt64

    /// Weak: once the queue has ended, the owning thread forgets the lane.
    private weak var owner: AnyObject?

    init(queue: UInt64, of owner: AnyObject) {
        guard let raw = _deferdrop_lane_create(_deferdrop_shared_chunk_pool()) else {
            fatalError("DeferDrop: out of memory for a lane")
        }
        self.raw = raw
        self.queue = queue
        self.owner = owner
        raw.pointee.owner = Unmanaged.passUnretained(self).toOpaque()
    }

    /// The calling thread's own lane object, which its `_ThreadLanes` holds.
    static func owned(_ raw: UnsafeMutablePointer<_deferdrop_lane>) -> _Lane {
        Unmanaged<_Lane>.fromOpaque(raw.pointee.owner).takeUnretainedValue()
    }

    var queueHasEnded: Bool {
        owner == nil
    }

    deinit {
        // No segment is left (each keeps its lane): every value collected is taken,
        // or in a fork child skipped, a thread of the parent's.
        _precondition(uncollected == 0, "DeferDrop: a lane was freed with \(uncollected) values not collected")
        _deferdrop_lane_destroy(raw)
    }

    /// For the owning thread only.
    @inline(__always)
    static func append(_ item: inout _DisposalItem?, to raw: UnsafeMutablePointer<_deferdrop_lane>) {
        // Traps without memory for a chunk, as Swift's own allocations do.
        if _deferdrop_lane_reserve(raw) == 0 { outOfMemory() }
        let object = Unmanaged.passRetained(item.take()!.object)
        _deferdrop_lane_push(raw, object.toOpaque())
    }

    @inline(never)
    private static func outOfMemory() -> Never {
        fatalError("DeferDrop: out of memory for a lane's chunk")
    }

    /// Under the worker's lock.
    var uncollected: UInt64 {
        _deferdrop_lane_uncollected(raw)
    }

    /// Under the worker's lock: every value published, or `nil`.
    func collect() -> Segment? {
        let start = raw.pointee.collected
        let end = _deferdrop_lane_collect(raw)
        return start == end ? nil : Segment(lane: self, start: start, end: end)
    }

    /// Values of one lane at consecutive positions. A lane's segments are
    /// queued after its earlier ones, so the head's holder reads each lane in order.
    struct Segment: Sendable {
        /// Kept alive until its values are taken.
        let lane: _Lane
        var start: UInt64
        var end: UInt64

        var count: UInt64 { end - start }
    }
}

extension [_Lane.Segment] {
    /// Merged with the last segment where it continues it.
    mutating func append(collected segment: _Lane.Segment) {
        if let last = indices.last, self[last].lane === segment.lane, self[last].end == segment.start {
            self[last].end = segment.end
        } else {
            append(segment)
        }
    }

    /// A loop, not `reduce`: a fork child counts, and a generic algorithm's
    /// first use asks the runtime for a conformance, under a lock the fork may
    /// have left held.
    var valueCount: UInt64 {
        var total: UInt64 = 0
        var index = 0
        while index < count {
            total += self[index].count
            index += 1
        }
        return total
    }

    /// For the head's holder, with the lock released: oldest first, each to
    /// `release`, which owns it. Past `deadline`, after at least one value,
    /// leaves the rest in order.
    @inline(__always)
    mutating func take(
        until deadline: UInt64?, afterEach: () -> Void, release: (UnsafeMutableRawPointer) -> Void
    ) -> UInt64 {
        var count: UInt64 = 0
        var finished = 0
        defer { removeFirst(finished) }
        while finished < self.count {
            let lane = self[finished].lane.raw
            let end = self[finished].end
            var position = self[finished].start
            _deferdrop_lane_seek(lane, position)
            while position < end {
                if let deadline, count > 0, _deferdrop_coarse_monotonic_ns() > deadline {
                    self[finished].start = position
                    return count
                }
                release(_deferdrop_lane_take_next(lane))
                position += 1
                count += 1
                afterEach()
            }
            finished += 1
        }
        return count
    }
}
