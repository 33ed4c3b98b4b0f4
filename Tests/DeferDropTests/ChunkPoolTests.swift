import DeferDrop
import DeferDropTestSupport
import Testing
import _DeferDropShims

/// A lane of `pool` holding `chunks` chunks' worth of tagged values, all taken
/// back: the reader empties `chunks - 1` of them on its way to the last.
private func fillAndEmpty(_ lane: UnsafeMutablePointer<_deferdrop_lane>, chunks: Int) -> Bool {
    let start = lane.pointee.written
    let count = UInt64(chunks) * UInt64(DEFERDROP_LANE_CHUNK_CAPACITY)
    for position in start..<(start + count) {
        guard _deferdrop_lane_reserve(lane) != 0 else { return false }
        _deferdrop_lane_push(lane, UnsafeMutableRawPointer(bitPattern: UInt(position + 1)))
    }
    let end = _deferdrop_lane_collect(lane)
    _deferdrop_lane_seek(lane, start)
    var inOrder = true
    for position in start..<end {
        let tag = UInt(bitPattern: _deferdrop_lane_take_next(lane))
        if tag != UInt(position + 1) { inOrder = false }
    }
    return inOrder
}

@Suite("The lanes' chunk pool")
struct ChunkPoolTests {
    @Test("the reader's emptied chunks go to the pool, up to its limit, and a growing lane takes them back")
    func emptiedChunksAreReused() throws {
        let pool = try #require(_deferdrop_chunk_pool_create(3))
        defer { _deferdrop_chunk_pool_destroy(pool) }
        let lane = try #require(_deferdrop_lane_create(pool))
        #expect(_deferdrop_chunk_pool_count(pool) == 0)

        // Six full chunks: the reader empties five, the first of which stays
        // the spare until the next displaces it; four reach the pool, which
        // keeps three and frees the fourth.
        #expect(fillAndEmpty(lane, chunks: 6))
        #expect(_deferdrop_chunk_pool_count(pool) == 3)

        // The next chunk is the spare, the two after it from the pool.
        for _ in 0..<3 * Int(DEFERDROP_LANE_CHUNK_CAPACITY) {
            #expect(_deferdrop_lane_reserve(lane) != 0)
            _deferdrop_lane_push(lane, UnsafeMutableRawPointer(bitPattern: 1))
        }
        #expect(_deferdrop_chunk_pool_count(pool) == 1)

        _deferdrop_lane_skip_to(lane, _deferdrop_lane_collect(lane))
        _deferdrop_lane_destroy(lane)
    }

    @Test("a destroyed lane gives its chunks to the pool")
    func destroyedLaneGivesItsChunks() throws {
        let pool = try #require(_deferdrop_chunk_pool_create(100))
        defer { _deferdrop_chunk_pool_destroy(pool) }
        let lane = try #require(_deferdrop_lane_create(pool))
        for _ in 0..<10 * Int(DEFERDROP_LANE_CHUNK_CAPACITY) {
            #expect(_deferdrop_lane_reserve(lane) != 0)
            _deferdrop_lane_push(lane, UnsafeMutableRawPointer(bitPattern: 1))
        }
        // Skipped to the end of ten chunks, the reader has emptied nine: the
        // first is the spare, eight are in the pool.
        _deferdrop_lane_skip_to(lane, _deferdrop_lane_collect(lane))
        #expect(_deferdrop_chunk_pool_count(pool) == 8)
        // The chunk it is in and the spare.
        _deferdrop_lane_destroy(lane)
        #expect(_deferdrop_chunk_pool_count(pool) == 10)
    }

    @Test("lanes on many threads share one pool: every value in order, and the pool within its limit")
    func sharedUnderLoad() async throws {
        let limit: UInt64 = 16
        let pool = try #require(_deferdrop_chunk_pool_create(limit))
        defer { _deferdrop_chunk_pool_destroy(pool) }
        let address = UInt(bitPattern: pool)
        let results = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    let pool = OpaquePointer(bitPattern: address)!
                    var inOrder = true
                    for _ in 0..<50 {
                        guard let lane = _deferdrop_lane_create(pool) else { return false }
                        inOrder = fillAndEmpty(lane, chunks: 5) && inOrder
                        _deferdrop_lane_destroy(lane)
                    }
                    return inOrder
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results == Array(repeating: true, count: 8))
        #expect(_deferdrop_chunk_pool_count(pool) <= limit)

        // A lane holding more chunks than the limit, destroyed: the pool is full.
        let lane = try #require(_deferdrop_lane_create(pool))
        for _ in 0..<(Int(limit) + 4) * Int(DEFERDROP_LANE_CHUNK_CAPACITY) {
            #expect(_deferdrop_lane_reserve(lane) != 0)
            _deferdrop_lane_push(lane, UnsafeMutableRawPointer(bitPattern: 1))
        }
        _deferdrop_lane_skip_to(lane, _deferdrop_lane_collect(lane))
        _deferdrop_lane_destroy(lane)
        #expect(_deferdrop_chunk_pool_count(pool) == limit)
    }
}

extension ChunkPoolTests {
    @Test("a trim frees what a pool keeps beyond its idle limit, and nothing below it")
    func trimKeepsTheIdleLimit() throws {
        let idleLimit = UInt64(DEFERDROP_CHUNK_POOL_IDLE_LIMIT)
        let pool = try #require(_deferdrop_chunk_pool_create(idleLimit * 2))
        defer { _deferdrop_chunk_pool_destroy(pool) }
        let lane = try #require(_deferdrop_lane_create(pool))
        // Ten more chunks than the idle limit reach the pool as the reader empties them.
        #expect(fillAndEmpty(lane, chunks: Int(idleLimit) + 12))
        #expect(_deferdrop_chunk_pool_count(pool) == idleLimit + 10)
        _deferdrop_chunk_pool_trim(pool)
        #expect(_deferdrop_chunk_pool_count(pool) == idleLimit)
        _deferdrop_chunk_pool_trim(pool)
        #expect(_deferdrop_chunk_pool_count(pool) == idleLimit)
        _deferdrop_lane_destroy(lane)
    }
}

extension ChunkPoolTests {
    @Test("a worker that goes to sleep trims the shared pool: a burst's chunks go back once it is destroyed")
    func workerTrimsSharedPoolWhenIdle() async {
        // In a process of its own, where no other test's lanes use the shared pool.
        // A trim that finds the pool's lock taken, as this test's count takes it,
        // is left to the next sleep: each round hands over one value, which gives
        // the worker one. Exit status 2: the pool still held more than its idle
        // limit after 1,000 sleeps, so a sleeping worker does not trim it.
        await #expect(processExitsWith: .success) {
            let worker = DropWorker(name: "trim", capacity: .unbounded)
            let gate = HeldLock()
            gate.lock()
            // The worker waits in the first destructor while the lane fills 200 chunks.
            deferDrop(OnDestroy { gate.lock() }, on: worker)
            for _ in 0..<200 * Int(DEFERDROP_LANE_CHUNK_CAPACITY) {
                deferDrop(OnDestroy {}, on: worker)
            }
            gate.unlock()
            await worker.flush()
            let pool = _deferdrop_shared_chunk_pool()
            for _ in 0..<1_000 {
                // Time for the worker to go from its last value to its sleep.
                usleep(1_000)
                if _deferdrop_chunk_pool_count(pool) <= UInt64(DEFERDROP_CHUNK_POOL_IDLE_LIMIT) { exit(0) }
                deferDrop(OnDestroy {}, on: worker)
                await worker.flush()
            }
            exit(2)
        }
    }
}
