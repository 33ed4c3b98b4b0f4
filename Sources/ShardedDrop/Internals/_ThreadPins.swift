import DeferDrop
import _DeferDropShims

/// The calling thread's pins: for each pool it has handed values to, the shard
/// it is pinned to.
///
/// Why thread-local storage and not a table keyed by thread: thread
/// ids are recycled as soon as a thread exits, so a new thread would inherit a
/// dead thread's pin, and the dead thread's place would never be given back.
/// The pins live in a `_ThreadSpecific` slot, released when the thread exits,
/// which unpins it from every live pool.
///
/// Only the owning thread ever reaches its `_ThreadPins` (through the key), so
/// the class needs no lock and is not `Sendable`.
final class _ThreadPins {
    private struct Pin {
        let assignment: _ShardAssignment
        let shard: Int
        /// Whether the pin counts towards the pool's balance. A pool's own
        /// worker threads are pinned to their own shard without counting.
        let counts: Bool
    }

    /// Usually one, for the one pool a thread feeds.
    private var pins: [Pin] = []

    /// The shard the calling thread is pinned to in the pool that owns
    /// `assignment`; on the thread's first call for that pool, `choose` picks
    /// the shard and says whether the pin counts towards the balance.
    static func shard(in assignment: _ShardAssignment, choose: () -> (shard: Int, counts: Bool)) -> Int {
        current._withUnsafeGuaranteedRef { pins in
            pins.lookUp(assignment, choose: choose)
        }
    }

    /// The slow path: another pool than last time, or a first hand-off.
    private func lookUp(_ assignment: _ShardAssignment, choose: () -> (shard: Int, counts: Bool)) -> Int {
        let shard: Int
        if let pin = pins.first(where: { $0.assignment === assignment }) {
            shard = pin.shard
        } else {
            // A good moment to let go of pools that no longer exist.
            pins.removeAll { $0.assignment.isClosed }
            let (chosen, counts) = choose()
            pins.append(Pin(assignment: assignment, shard: chosen, counts: counts))
            shard = chosen
        }
        return shard
    }

    /// Runs when the thread exits: gives each pool its place back.
    deinit {
        _deferdrop_set_pin(0, 0, nil)
        for pin in pins where pin.counts {
            pin.assignment.unpin(shard: pin.shard)
        }
    }

    /// The calling thread's pins, created on first use (see `_ThreadSpecific`).
    private static var current: Unmanaged<_ThreadPins> {
        _threadPins.current
    }
}

/// The thread-specific slot of `_ThreadPins`: a thread's pins are released,
/// and its places given back, when it exits.
private let _threadPins = _ThreadSpecific("ShardedDrop's shard pins") { _ThreadPins() }
