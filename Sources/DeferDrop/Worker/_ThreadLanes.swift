import _DeferDropShims

/// The calling thread's lanes, one per queue, behind the C one-entry cache. When
/// the thread ends its lanes are marked so, and their queues forget them once
/// emptied: no value is lost. Only the owning thread reaches the table: no lock.
final class _ThreadLanes {
    private var lanes: [_Lane] = []

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

    deinit {
        _deferdrop_set_current_lane(0, nil)
        for lane in lanes {
            lane.ownerHasEnded.store(true, ordering: .releasing)
        }
    }
}

private let _threadLanes = _ThreadSpecific("DeferDrop's lanes") { _ThreadLanes() }
