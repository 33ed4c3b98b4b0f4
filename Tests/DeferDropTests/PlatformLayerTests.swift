import DeferDrop
import DeferDropTestSupport
import Testing
import _DeferDropShims
import _DeferDropTestShims

@Suite("Platform layer")
struct PlatformLayerTests {
    @Test("the layer in use is the one the build asked for")
    func layerIsTheOneAskedFor() throws {
        let asked: _PlatformLayer
        if _deferdrop_test_build_asks_for_posix_only() != 0 {
            asked = .posixOnly
        } else {
            #if canImport(Darwin)
            asked = .darwin
            #elseif os(Linux)
            asked = .linux
            #else
            asked = .posixOnly
            #endif
        }
        #expect(_PlatformLayer.current == asked, "the layer's compiled code")
        #expect(_PlatformLayer.ofHeaders == asked, "the layer's headers, as Swift reads them")
        // CI names the layer it built for, independently of the flags.
        if let expected = getenv("DEFERDROP_EXPECTED_LAYER").map({ String(cString: $0) }) {
            #expect(_PlatformLayer.current.rawValue == expected, "DEFERDROP_EXPECTED_LAYER=\(expected)")
        }
    }

    @Test("what each layer provides: names, scheduling classes, the sleeper's fence, allocator figures, the mutex")
    func whatTheLayerProvides() {
        let capacity = _deferdrop_thread_name_capacity()
        let allocator = AllocatorStatistics.current().backend
        switch _PlatformLayer.current {
        case .linux:
            #expect(capacity == 15)
            #expect(threadsHaveNames)
            #expect(DropPriority.idle.schedulingClass == .linuxIdle)
            #if canImport(Glibc) && !Jemalloc
            if case .glibc = allocator {} else { Issue.record("glibc's malloc expected, got \(allocator)") }
            #endif
        case .darwin:
            #expect(capacity == 63)
            #expect(_deferdrop_sleeper_fence_set_up() == 0, "Darwin has no membarrier(): producers fence")
            #if !Jemalloc
            #expect(allocator == .darwin)
            #endif
        case .posixOnly:
            #expect(capacity == 0)
            #expect(!threadsHaveNames)
            #expect(_deferdrop_set_current_thread_name("x") != 0, "no thread names")
            #expect(DropPriority.idle.schedulingClass == .unchanged)
            #expect(_deferdrop_sleeper_fence_set_up() == 0, "no membarrier(): producers fence")
            #if !Jemalloc
            #expect(allocator == .unknown)
            #endif
        }
        let mutex = UnsafeMutablePointer<_deferdrop_mutex>.allocate(capacity: 1)
        defer { mutex.deallocate() }
        #expect(_deferdrop_mutex_init(mutex) == 0)
        let adaptive = _deferdrop_test_mutex_is_adaptive(mutex)
        _deferdrop_mutex_destroy(mutex)
        switch _PlatformLayer.current {
        case .linux:
            #if canImport(Glibc)
            #expect(adaptive == 1, "glibc's adaptive mutex: it spins before it sleeps")
            #endif
        case .posixOnly:
            #expect(adaptive != 1, "the default mutex")
        case .darwin:
            #expect(adaptive == -1)
        }
        #expect(_deferdrop_active_processor_count() >= 1)
        #expect(_deferdrop_current_thread_id() != 0)
        let here = _deferdrop_current_thread_id()
        #expect(onNewThread { _deferdrop_current_thread_id() } != here, "each thread has its own id")
    }
}
