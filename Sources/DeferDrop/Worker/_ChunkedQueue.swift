/// First-in, first-out storage for items, in chunks of a fixed capacity.
///
/// Why chunks: a single array that doubles would copy every pending item at each
/// growth, under the lock, on the producer that happened to append; with a
/// million values pending that is a millisecond stall on exactly the thread the
/// package exists to keep fast. Here an append writes one slot, or at worst
/// starts a new chunk, and the worker takes every chunk at once in O(1). Chunks
/// the worker has emptied come back, capacity kept, so a steady stream of
/// values allocates nothing for the queue itself.
struct _ChunkedQueue: Sendable {
    typealias Chunk = [_DisposalItem]

    /// Items per chunk: 8 KiB of references.
    static let chunkCapacity = 1024
    /// Emptied chunks kept for reuse; more are freed.
    static let maximumSpareChunks = 4

    /// Full chunks, oldest first. Never holds an empty chunk.
    private var full: [Chunk] = []
    /// The chunk being filled, after every chunk in `full`.
    private var tail: Chunk = []
    /// Empty chunks with their capacity, ready to become the tail.
    private var spares: [Chunk] = []

    var isEmpty: Bool { tail.isEmpty && full.isEmpty }

    /// The number of items queued.
    var count: Int { full.reduce(tail.count) { $0 + $1.count } }

    mutating func append(_ item: consuming _DisposalItem) {
        if tail.count == Self.chunkCapacity {
            var filled = takeSpareChunk()
            swap(&filled, &tail)
            full.append(filled)
        }
        tail.append(item)
    }

    /// Gives back the chunks of `batch`, which the worker has emptied, and
    /// moves every queued item into it, oldest first.
    ///
    /// - Precondition: every chunk in `batch` is empty.
    mutating func exchange(_ batch: inout [Chunk]) {
        recycle(&batch)
        swap(&batch, &full)
        if !tail.isEmpty {
            var last = takeSpareChunk()
            swap(&last, &tail)
            batch.append(last)
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
        var rest: [Chunk] = []
        for index in batch.indices where !batch[index].isEmpty {
            rest.append([])
            swap(&rest[rest.count - 1], &batch[index])
        }
        recycle(&batch)
        guard !rest.isEmpty else { return false }
        full.insert(contentsOf: rest, at: 0)
        return true
    }

    /// Keeps up to `maximumSpareChunks` of the emptied chunks of `batch`,
    /// capacity kept, and leaves `batch` empty.
    private mutating func recycle(_ batch: inout [Chunk]) {
        while var chunk = batch.popLast() {
            assert(chunk.isEmpty, "a chunk still holds values")
            guard spares.count < Self.maximumSpareChunks else { continue }
            chunk.removeAll(keepingCapacity: true)
            spares.append(chunk)
        }
    }

    private mutating func takeSpareChunk() -> Chunk {
        if let spare = spares.popLast() { return spare }
        var chunk = Chunk()
        chunk.reserveCapacity(Self.chunkCapacity)
        return chunk
    }
}
