import _DeferDropShims

extension _ChunkedQueue {
    /// Up to `chunkCapacity` items in one block of memory, oldest first, each
    /// kept as the +1 reference it holds.
    ///
    /// Why references in raw slots rather than an array of items: values go
    /// in and out by the million. An array's append and removal ask the
    /// runtime about uniqueness and capacity each time, and reading an
    /// element to test its reference count retains it. Here an append is a
    /// store, taking the oldest is a load, and a lane's values arrive as one
    /// copy of a run of pointers.
    final class Chunk: @unchecked Sendable {
        // @unchecked Sendable: a chunk belongs either to a queue's state,
        // under its lock, or to the one thread that took it out under that
        // lock (the worker's batch, a producer's drain): never to two threads
        // at once.
        private let slots: UnsafeMutablePointer<UnsafeMutableRawPointer?>
        /// The oldest item's slot.
        private var head = 0
        /// The slot after the newest item's.
        private var end = 0

        init() {
            slots = .allocate(capacity: _ChunkedQueue.chunkCapacity)
        }

        deinit {
            // Only a queue freed with values still in it gets here with
            // items: they are released, oldest first, as an array's would be.
            while let object = takeOldest() {
                Unmanaged<AnyObject>.fromOpaque(object).release()
            }
            slots.deallocate()
        }

        var isEmpty: Bool { head == end }
        var count: Int { end - head }
        var isFull: Bool { end == _ChunkedQueue.chunkCapacity }
        /// Free slots after the newest item.
        var room: Int { _ChunkedQueue.chunkCapacity - end }

        /// - Precondition: `!isFull`.
        @inline(__always)
        func append(_ item: consuming _DisposalItem) {
            slots[end] = Unmanaged.passRetained(item.object).toOpaque()
            end += 1
        }

        /// Moves the `count` oldest values of `lane`, which has at least
        /// that many published, after the newest item.
        ///
        /// - Precondition: `count <= room`.
        func append(takingFrom lane: UnsafeMutablePointer<_deferdrop_lane>, count: Int) {
            _deferdrop_lane_take(lane, slots + end, UInt64(count))
            end += count
        }

        /// Removes the oldest item and returns its reference, +1: the caller
        /// now owns it and must release it. `nil` if the chunk is empty.
        @inline(__always)
        func takeOldest() -> UnsafeMutableRawPointer? {
            guard head < end else { return nil }
            defer { head += 1 }
            return slots[head]
        }

        /// Makes an emptied chunk ready to be filled from its first slot.
        func reset() {
            assert(isEmpty, "a chunk still holds values")
            head = 0
            end = 0
        }
    }
}
