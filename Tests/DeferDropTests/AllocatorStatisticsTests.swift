import DeferDrop
import DeferDropTestSupport
import Testing


/// 64 arrays whose buffers just fit jemalloc's 1 MiB size class: the array's
/// header takes 32 bytes, so `(1 << 20) - 64` elements make a block of
/// 1 MiB - 32 bytes; one byte more and the class is 1.25 MiB.
func makeMebibyteArrays() -> [[UInt8]] {
    (0..<64).map { _ in [UInt8](repeating: 7, count: (1 << 20) - 64) }
}

let mebibyte: UInt64 = 1 << 20

@Suite("Allocator statistics", .disabled(if: runningUnderSanitizer, "a sanitizer replaces the allocator"))
struct AllocatorStatisticsTests {
    #if Jemalloc
    @Test("jemalloc: 64 deferred 1 MiB arrays raise the worker's reclaimedBytes by 63–66 MiB, not the producer's")
    func reclaimedBytesOfAWorker() throws {
        let worker = DropWorker(name: "reclaim", capacity: .unbounded)
        worker.dispose([0])
        worker.flush()  // the thread has started; what it freed so far is counted
        let workerBefore = try #require(worker.statistics.reclaimedBytes)
        let producerBefore = try #require(AllocatorStatistics.bytesFreedByCurrentThread)

        var arrays = makeMebibyteArrays()
        while let array = arrays.popLast() {
            worker.dispose(consume array)
        }
        let producerAfter = try #require(AllocatorStatistics.bytesFreedByCurrentThread)
        worker.flush()

        let reclaimed = try #require(worker.statistics.reclaimedBytes) - workerBefore
        #expect(reclaimed >= 63 * mebibyte, "the worker reclaimed \(reclaimed) bytes")
        #expect(reclaimed <= 66 * mebibyte, "the worker reclaimed \(reclaimed) bytes")
        #expect(producerAfter - producerBefore < mebibyte, "the producer freed \(producerAfter - producerBefore) bytes")
        #expect(worker.statistics.description.contains("reclaimed"))
    }

    @Test("jemalloc: every figure is known, and the backend says so")
    func jemallocSnapshot() throws {
        let snapshot = AllocatorStatistics.current()
        guard case .jemalloc(let version) = snapshot.backend else {
            Issue.record("built with the Jemalloc trait, yet the backend is \(snapshot.backend)")
            return
        }
        #expect(version.hasPrefix("5."))
        let allocated = try #require(snapshot.allocated)
        let active = try #require(snapshot.active)
        let resident = try #require(snapshot.resident)
        let mapped = try #require(snapshot.mapped)
        #expect(snapshot.retained != nil)
        #expect(allocated > 0 && allocated <= active && active <= mapped)
        #expect(resident > 0)
        #expect(snapshot.description.hasPrefix("jemalloc 5."))
    }
    #else
    @Test("without the Jemalloc trait: no per-thread bytes, the system allocator's figures or none, never estimates")
    func fallbackSnapshot() {
        let worker = DropWorker(name: "no-bytes", capacity: .unbounded)
        worker.dispose(makeMebibyteArrays())
        worker.flush()
        #expect(worker.statistics.reclaimedBytes == nil)
        #expect(AllocatorStatistics.bytesFreedByCurrentThread == nil)

        let snapshot = AllocatorStatistics.current()
        #expect(snapshot.active == nil)
        #expect(snapshot.resident == nil)
        #expect(snapshot.retained == nil)
        switch _PlatformLayer.current {
        case .posixOnly:
            #expect(snapshot.backend == .unknown)
            #expect(snapshot.allocated == nil)
            #expect(snapshot.mapped == nil)
            #expect(snapshot.description.hasPrefix("unknown allocator"))
            return
        case .darwin:
            #expect(snapshot.backend == .darwin)
            #expect((snapshot.allocated ?? 0) > 0)
            #expect((snapshot.mapped ?? 0) >= (snapshot.allocated ?? 0))
            return
        case .linux:
            break
        }
        #if canImport(Glibc)
        guard case .glibc(let version) = snapshot.backend else {
            Issue.record("expected glibc's malloc, got \(snapshot.backend)")
            return
        }
        #expect(version.hasPrefix("2."))
        #expect((snapshot.allocated ?? 0) > 0)
        #expect((snapshot.mapped ?? 0) >= (snapshot.allocated ?? 0))
        #expect(snapshot.description.hasPrefix("glibc 2."))
        #endif
    }
    #endif

    @Test("the process's allocated bytes fall by about the payload after a deferred drop and a flush")
    func allocatedFallsAfterFlush() async {
        // In a process of its own: the figure is process-wide, and the other
        // tests allocate and free in parallel.
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) {
            let worker = DropWorker(name: "alloc-fall", capacity: .unbounded)
            worker.dispose([0])
            await worker.flush()
            var arrays = makeMebibyteArrays()
            guard let before = AllocatorStatistics.current().allocated else {
                // No figures from this allocator: nothing to compare.
                exit(0)
            }
            while let array = arrays.popLast() {
                worker.dispose(consume array)
            }
            await worker.flush()
            let after = AllocatorStatistics.current().allocated ?? 0
            let fallen = Int64(before) - Int64(after)
            let expected = 64 * Int64(mebibyte)
            precondition(
                abs(fallen - expected) <= 2 * Int64(mebibyte),
                "allocated fell by \(fallen) bytes, expected about \(expected)")
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(!message.contains("allocated fell"), "\(message)")
    }

    @Test("byte counts print in binary units")
    func descriptions() {
        #expect(DropStatistics(deferred: 1, destroyed: 1, reclaimedBytes: 64_172_851).description.hasSuffix("reclaimed 61.2 MiB"))
        #expect(DropStatistics(reclaimedBytes: 512).description.hasSuffix("reclaimed 512 B"))
        #expect(DropStatistics(reclaimedBytes: 3 << 30).description.hasSuffix("reclaimed 3 GiB"))
        #expect(!DropStatistics().description.contains("reclaimed"))
        let snapshot = AllocatorStatistics(backend: .glibc(version: "2.36"), allocated: 1536, mapped: 1 << 20)
        #expect(snapshot.description == "glibc 2.36: allocated 1.5 KiB, mapped 1 MiB")
        #expect(AllocatorStatistics(backend: .unknown).description == "unknown allocator: no figures available")
    }
}
