import Synchronization
import _DeferDropShims

/// One producer thread's queue to one worker: the thread appends without a
/// lock; whoever holds the worker's lock takes values from the head.
///
/// The ring itself is C (`_DeferDropLane.h`): chunks of 1023 values, linked
/// as the producer fills them, and one left by the consumer kept for the
/// producer's next. This class owns it and moves `_DisposalItem`s in and out
/// as +1 references, so a value is never copied on its way through (see
/// `_DisposalItem`).
final class _Lane: @unchecked Sendable {
    // @unchecked Sendable: the C lane is single-producer, single-consumer by
    // contract, not by type: `append` only on the thread that owns the lane
    // (through `_ThreadLanes`), `take` only under the worker's lock. Both
    // sides meet only through `published`, with release and acquire, and
    // `spare`, exchanged. `owner` is written once, in `init`, and read by
    // the owning thread alone (a weak load is atomic in any case).
    let raw: UnsafeMutablePointer<_deferdrop_lane>

    /// Set once the owning thread has ended: no more values will come, and
    /// once the lane is empty its queue may forget it.
    let ownerHasEnded = Atomic<Bool>(false)

    /// The inbox's identity (`_Inbox.id`), for the owning thread's table.
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
    }

    /// Whether the queue has ended: for the owning thread.
    var queueHasEnded: Bool {
        owner == nil
    }

    deinit {
        _precondition(
            _deferdrop_lane_available(raw) == 0,
            "DeferDrop: a lane was freed with \(_deferdrop_lane_available(raw)) values in it")
        _deferdrop_lane_destroy(raw)
    }

    /// For the owning thread: appends `item` and publishes it. Leaves `item`
    /// `nil`.
    @inline(__always)
    static func append(_ item: inout _DisposalItem?, to raw: UnsafeMutablePointer<_deferdrop_lane>) {
        // A lane grows a chunk every 1023 values; as Swift's own allocations
        // do, it traps when there is no memory for one.
        if _deferdrop_lane_reserve(raw) == 0 { outOfMemory() }
        let object = Unmanaged.passRetained(item.take()!.object)
        _deferdrop_lane_push(raw, object.toOpaque())
    }

    @inline(never)
    private static func outOfMemory() -> Never {
        fatalError("DeferDrop: out of memory for a lane's chunk")
    }

    /// For the consumer: values published and not yet taken.
    var available: UInt64 {
        _deferdrop_lane_available(raw)
    }

    /// For the consumer: moves every value published in `raw` to the end of
    /// `queue`, oldest first; returns how many.
    static func takeAll(from raw: UnsafeMutablePointer<_deferdrop_lane>, into queue: inout _ChunkedQueue) -> UInt64 {
        let count = _deferdrop_lane_available(raw)
        guard count > 1 else {
            // One value: what an admission under the lock takes, every time.
            if count == 1 { queue.append(retained: _deferdrop_lane_take_one(raw)) }
            return count
        }
        var remaining = count
        _ = queue.append { slots, room in
            let run = min(remaining, UInt64(room))
            _deferdrop_lane_take(raw, slots, run)
            remaining -= run
            return Int(run)
        }
        return count
    }
}

// MARK: The clock schedule

