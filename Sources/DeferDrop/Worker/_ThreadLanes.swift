import _DeferDropShims

/// The calling thread's lanes: one for each queue it has handed values to.
///
/// A hand-off finds its lane in the C one-entry cache (`_deferdrop_current_lane`,
/// the lane to the queue this thread used last) and comes here only for
/// another queue or its first value. When the thread ends, its lanes are
/// marked so, and their queues forget them once they have taken what is left:
/// a thread that ends with values in its lane loses none. A lane whose queue
/// has ended is forgotten here when the thread next makes a lane.
///
/// Only the owning thread reaches its table (through `_ThreadSpecific`), so
/// it needs no lock.
final class _ThreadLanes {
    private var lanes: [_Lane] = []

    /// The calling thread's lane to `owner`, whose identity is `queue`: made
    /// on the first hand-off, then put in the one-entry cache.
    static func lane(to queue: UInt64, of owner: AnyObject) -> _Lane {
        _threadLanes.current._withUnsafeGuaranteedRef { table in
            let lane: _Lane
            if let known = table.lanes.first(where: { $0.queue == queue }) {
                lane = known
            } else {
                // A good moment to forget the lanes of queues that have ended.
                table.lanes.removeAll { $0.queueHasEnded }
                lane = _Lane(queue: queue, of: owner)
                table.lanes.append(lane)
            }
            _deferdrop_set_current_lane(queue, lane.raw)
            return lane
        }
    }

    /// Runs when the thread ends.
    deinit {
        _deferdrop_set_current_lane(0, nil)
        for lane in lanes {
            lane.ownerHasEnded.store(true, ordering: .releasing)
        }
    }
}

private let _threadLanes = _ThreadSpecific("DeferDrop's lanes") { _ThreadLanes() }
