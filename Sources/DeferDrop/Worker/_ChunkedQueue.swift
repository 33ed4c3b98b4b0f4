/// First-in, first-out storage for items, in chunks of a fixed capacity.
///
/// Why chunks: a single array that doubles would copy every pending item at each
/// growth, under the lock, on the producer that happened to append; with a
/// million values pending that is a millisecond stall on exactly the thread the
/// package exists to keep fast. Here an append writes one slot, or at worst
/// starts a new chunk, and the worker takes every chunk at once in O(1). Chunks
/// the worker has emptied come back, so a steady stream of values allocates
/// nothing for the queue itself.
///
/// Noncopyable: its chunks are references, and a copy would share them.
struct _ChunkedQueue: ~Copyable, Sendable {
    /// Items per chunk: 8 KiB of references.
    static let chunkCapacity = 1024
    /// Emptied chunks kept for reuse; more are freed.
    static let maximumSpareChunks = 4

    /// Full chunks, oldest first. Never holds an empty chunk.
    private var full: [Chunk] = []
    /// The chunk being filled, after every chunk in `full`.
    private var tail = Chunk()
    /// Empty chunks, ready to become the tail.
    private var spares: [Chunk] = []

    var isEmpty: Bool { tail.isEmpty && full.isEmpty }

    /// The number of items queued.
    var count: Int { full.reduce(tail.count) { $0 + $1.count } }

    /// Appends one +1 reference.
    mutating func append(retained object: UnsafeMutableRawPointer) {
        if tail.isFull { startNewTail() }
        tail.append(retained: object)
    }

    /// Appends what `fill` writes, oldest first, to the free slots it is
    /// given (a pointer and how many), as +1 references; `fill` returns how
    /// many it wrote, and is called again with a new chunk until it writes
    /// fewer than it was given. Returns how many were appended in all.
    mutating func append(filling fill: (UnsafeMutablePointer<UnsafeMutableRawPointer?>, Int) -> Int) -> Int {
        var appended = 0
        while true {
            if tail.isFull { startNewTail() }
            let room = tail.room
            let written = tail.append(filling: fill)
            appended += written
            if written < room { return appended }
        }
    }

    /// Gives back the chunks of `batch`, which the worker has emptied, and
    /// moves every queued item into it, oldest first.
    ///
    /// - Precondition: every chunk in `batch` is empty.
    mutating func exchange(_ batch: inout [Chunk]) {
        recycle(&batch)
        swap(&batch, &full)
        if !tail.isEmpty {
            batch.append(tail)
            tail = takeSpareChunk()
        }
    }

    /// Puts the items left in `batch`, which a drainer took from this queue
    /// and did not finish, back ahead of every item queued since, in their
    /// order, and keeps the emptied chunks for reuse. Returns whether any
    /// item was put back.
    ///
    /// - Precondition: `batch` holds items taken from the head of this queue,
    ///   oldest first, and nothing was taken from it since.
    @discardableResult
    mutating func prepend(_ batch: inout [Chunk]) -> Bool {
        let rest = batch.filter { !$0.isEmpty }
        batch.removeAll { !$0.isEmpty }
        recycle(&batch)
        guard !rest.isEmpty else { return false }
        full.insert(contentsOf: rest, at: 0)
        return true
    }

    private mutating func startNewTail() {
        full.append(tail)
        tail = takeSpareChunk()
    }

    /// Keeps up to `maximumSpareChunks` of the emptied chunks of `batch`,
    /// and leaves `batch` empty.
    private mutating func recycle(_ batch: inout [Chunk]) {
        while let chunk = batch.popLast() {
            assert(chunk.isEmpty, "a chunk still holds values")
            guard spares.count < Self.maximumSpareChunks else { continue }
            chunk.reset()
            spares.append(chunk)
        }
    }

    private mutating func takeSpareChunk() -> Chunk {
        spares.popLast() ?? Chunk()
    }
}
