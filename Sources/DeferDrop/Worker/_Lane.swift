import Synchronization
import _DeferDropShims

/// One producer thread's queue to one worker, from the hand-off to the
/// value's destruction: the thread appends without a lock; whoever holds the
/// worker's lock collects what is published into the worker's queue, as a
/// run of positions (`Segment`); whoever holds the head of that queue takes
/// the values from their slots and destroys them.
///
/// The ring itself is C (`_DeferDropLane.h`): chunks of `DEFERDROP_LANE_CHUNK_CAPACITY` values, linked
/// as the producer fills them, and one emptied by the reader kept for the
/// producer's next. This class owns it and moves `_DisposalItem`s in and out
/// as +1 references, so a value is never copied on its way through (see
/// `_DisposalItem`).
final class _Lane: @unchecked Sendable {
    // @unchecked Sendable: the C lane has one writer per part, by contract,
    // not by type: `append` only on the thread that owns the lane (through
    // `_ThreadLanes`), `collect` only under the worker's lock, `take` only by
    // the holder of the queue's head, which the lock hands from one holder
    // to the next. The writer and the others meet only through `published`,
    // with release and acquire, and `spare`, exchanged. `owner` is written
    // once, in `init`, and read by the owning thread alone (a weak load is
    // atomic in any case).
    let raw: UnsafeMutablePointer<_deferdrop_lane>

    /// Set once the owning thread has ended: no more values will come, and
    /// once every value is collected its queue may forget the lane.
    let ownerHasEnded = Atomic<Bool>(false)

    /// The hand-off's identity (`_Handoff.id`), for the owning thread's table.
    let queue: UInt64

    /// The queue itself, weakly: once it has ended, the owning thread may
    /// forget the lane. Only the owning thread reads it.
    private weak var owner: AnyObject?

    init(queue: UInt64, of owner: AnyObject) {
        guard let raw = _deferdrop_lane_create() else {
            fatalError("DeferDrop: out of memory for a lane")
        }
        self.raw = raw
        self.queue = queue
        self.owner = owner
        raw.pointee.owner = Unmanaged.passUnretained(self).toOpaque()
    }

    /// The calling thread's own lane object, from its lane: the thread's
    /// table (`_ThreadLanes`) holds it.
    static func owned(_ raw: UnsafeMutablePointer<_deferdrop_lane>) -> _Lane {
        Unmanaged<_Lane>.fromOpaque(raw.pointee.owner).takeUnretainedValue()
    }

    /// Whether the queue has ended: for the owning thread.
    var queueHasEnded: Bool {
        owner == nil
    }

    deinit {
        // No segment is left (each keeps its lane), so every value collected
        // has been taken.
        _precondition(uncollected == 0, "DeferDrop: a lane was freed with \(uncollected) values not collected")
        _deferdrop_lane_destroy(raw)
    }

    /// For the owning thread: appends `item` and publishes it. Leaves `item`
    /// `nil`.
    @inline(__always)
    static func append(_ item: inout _DisposalItem?, to raw: UnsafeMutablePointer<_deferdrop_lane>) {
        // A lane grows a chunk when one is full; as Swift's own allocations
        // do, it traps when there is no memory for one.
        if _deferdrop_lane_reserve(raw) == 0 { outOfMemory() }
        let object = Unmanaged.passRetained(item.take()!.object)
        _deferdrop_lane_push(raw, object.toOpaque())
    }

    @inline(never)
    private static func outOfMemory() -> Never {
        fatalError("DeferDrop: out of memory for a lane's chunk")
    }

    /// Under the worker's lock: values published and not yet collected.
    var uncollected: UInt64 {
        _deferdrop_lane_uncollected(raw)
    }

    /// Under the worker's lock: collects every value published, as the
    /// segment of their positions; `nil` if there is none.
    func collect() -> Segment? {
        let start = raw.pointee.collected
        let end = _deferdrop_lane_collect(raw)
        return start == end ? nil : Segment(lane: self, start: start, end: end)
    }

    /// Values of one lane at consecutive positions, in the worker's queue:
    /// the queue is a list of segments, oldest first, and names each value
    /// by its position in its lane. Every segment of a lane comes after the
    /// lane's earlier ones, so the holder of the queue's head reads each lane
    /// in order.
    struct Segment: Sendable {
        /// The lane, which the segment keeps alive until its values are taken.
        let lane: _Lane
        /// The position of the oldest value not yet taken.
        var start: UInt64
        /// The position after the newest value.
        var end: UInt64

        var count: UInt64 { end - start }
    }
}

extension [_Lane.Segment] {
    /// Appends `segment` to the queue, merged with the last one where it
    /// continues it.
    mutating func append(collected segment: _Lane.Segment) {
        if let last = indices.last, self[last].lane === segment.lane, self[last].end == segment.start {
            self[last].end = segment.end
        } else {
            append(segment)
        }
    }

    /// The number of values the segments hold.
    ///
    /// A loop over indices, not `reduce`: a fork child counts, and a generic
    /// algorithm's first use there asks the runtime for a conformance,
    /// under a lock the fork may have left held.
    var valueCount: UInt64 {
        var total: UInt64 = 0
        var index = 0
        while index < count {
            total += self[index].count
            index += 1
        }
        return total
    }

    /// For the holder of the queue's head, with the lock released: takes
    /// the values oldest first and passes each to `release`, which owns it,
    /// then calls `afterEach`. With a `deadline` (coarse monotonic ns), stops
    /// once it has passed, after at least one value, and leaves the rest,
    /// in order. Returns how many were taken.
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
