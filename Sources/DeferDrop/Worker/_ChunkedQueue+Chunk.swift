extension _ChunkedQueue {
    /// Where a chunk's items lie in its slots.
    struct ChunkBounds {
        /// The oldest item's slot.
        var head = 0
        /// The slot after the newest item's.
        var end = 0
    }

    /// Up to `chunkCapacity` items, oldest first, each kept as the +1
    /// reference it holds, in slots allocated with the chunk itself.
    ///
    /// Why references in raw slots rather than an array of items: values go
    /// in and out by the million. An array's append and removal ask the
    /// runtime about uniqueness and capacity each time, and reading an
    /// element to test its reference count retains it. Here an append is a
    /// store, taking the oldest is a load, and a lane's values arrive as one
    /// copy of a run of pointers.
    ///
    /// A reference to the chunk's storage: its bounds and its slots.
    struct Chunk: @unchecked Sendable {
        // @unchecked Sendable: a chunk belongs either to a queue's state,
        // under its lock, or to the one thread that took it out under that
        // lock (the worker's batch, a producer's drain): never to two threads
        // at once.
        private let storage = ChunkStorage()

        var isEmpty: Bool { storage.bounds.head == storage.bounds.end }
        var count: Int { storage.bounds.end - storage.bounds.head }
        var isFull: Bool { storage.bounds.end == _ChunkedQueue.chunkCapacity }
        /// Free slots after the newest item.
        var room: Int { _ChunkedQueue.chunkCapacity - storage.bounds.end }

        /// - Precondition: `!isFull`.
        @inline(__always)
        func append(retained object: UnsafeMutableRawPointer) {
            storage.slots[storage.bounds.end] = object
            storage.bounds.end += 1
        }

        /// Appends what `fill` writes to the free slots after the newest item
        /// (see `_ChunkedQueue.append(filling:)`); returns how many.
        func append(filling fill: (UnsafeMutablePointer<UnsafeMutableRawPointer?>, Int) -> Int) -> Int {
            let written = fill(storage.slots + storage.bounds.end, room)
            storage.bounds.end += written
            return written
        }

        /// Removes the oldest item and returns its reference, +1: the caller
        /// now owns it and must release it. `nil` if the chunk is empty.
        @inline(__always)
        func takeOldest() -> UnsafeMutableRawPointer? {
            storage.takeOldest()
        }

        /// Makes an emptied chunk ready to be filled from its first slot.
        func reset() {
            assert(isEmpty, "a chunk still holds values")
            storage.bounds = ChunkBounds()
        }
    }

    /// A chunk's bounds and its slots.
    ///
    /// A plain class with its slots in an allocation of their own, not a
    /// `ManagedBuffer`: a class of a generic superclass has its metadata
    /// built at run time on first use, which the first hand-off of a process
    /// would pay for.
    ///
    /// Unchecked exclusivity: only the one thread that holds the chunk (see
    /// `Chunk`) reaches its bounds, and no access spans a call that could
    /// reach them again.
    final class ChunkStorage {
        @exclusivity(unchecked) var bounds = ChunkBounds()
        let slots = UnsafeMutablePointer<UnsafeMutableRawPointer?>.allocate(capacity: _ChunkedQueue.chunkCapacity)

        deinit {
            // Only a queue freed with values still in it gets here with
            // items: they are released, oldest first, as an array's would be.
            while let object = takeOldest() {
                Unmanaged<AnyObject>.fromOpaque(object).release()
            }
            slots.deallocate()
        }

        /// See `Chunk.takeOldest()`.
        @inline(__always)
        func takeOldest() -> UnsafeMutableRawPointer? {
            guard bounds.head < bounds.end else { return nil }
            defer { bounds.head += 1 }
            return slots[bounds.head]
        }
    }
}
