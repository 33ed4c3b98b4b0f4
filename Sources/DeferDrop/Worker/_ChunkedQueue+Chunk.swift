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
    /// A reference to one allocation: the bounds and the slots together.
    struct Chunk: @unchecked Sendable {
        // @unchecked Sendable: a chunk belongs either to a queue's state,
        // under its lock, or to the one thread that took it out under that
        // lock (the worker's batch, a producer's drain): never to two threads
        // at once. (`ManagedBuffer` is not `Sendable`, hence this wrapper.)
        private let storage: ChunkStorage

        init() {
            storage = unsafeDowncast(
                ChunkStorage.create(minimumCapacity: _ChunkedQueue.chunkCapacity) { _ in ChunkBounds() },
                to: ChunkStorage.self)
        }

        var isEmpty: Bool { storage.header.head == storage.header.end }
        var count: Int { storage.header.end - storage.header.head }
        var isFull: Bool { storage.header.end == _ChunkedQueue.chunkCapacity }
        /// Free slots after the newest item.
        var room: Int { _ChunkedQueue.chunkCapacity - storage.header.end }

        /// - Precondition: `!isFull`.
        @inline(__always)
        func append(retained object: UnsafeMutableRawPointer) {
            storage.withUnsafeMutablePointers { bounds, slots in
                slots[bounds.pointee.end] = object
                bounds.pointee.end += 1
            }
        }

        /// Appends what `fill` writes to the free slots after the newest item
        /// (see `_ChunkedQueue.append(filling:)`); returns how many.
        func append(filling fill: (UnsafeMutablePointer<UnsafeMutableRawPointer?>, Int) -> Int) -> Int {
            let room = room
            return storage.withUnsafeMutablePointers { bounds, slots in
                let written = fill(slots + bounds.pointee.end, room)
                bounds.pointee.end += written
                return written
            }
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
            storage.header = ChunkBounds()
        }
    }

    /// A chunk's one allocation: its bounds, then its slots.
    final class ChunkStorage: ManagedBuffer<ChunkBounds, UnsafeMutableRawPointer?> {
        deinit {
            // Only a queue freed with values still in it gets here with
            // items: they are released, oldest first, as an array's would be.
            while let object = takeOldest() {
                Unmanaged<AnyObject>.fromOpaque(object).release()
            }
        }

        /// See `Chunk.takeOldest()`.
        @inline(__always)
        func takeOldest() -> UnsafeMutableRawPointer? {
            withUnsafeMutablePointers { bounds, slots in
                guard bounds.pointee.head < bounds.pointee.end else { return nil }
                defer { bounds.pointee.head += 1 }
                return slots[bounds.pointee.head]
            }
        }
    }
}
