import DeferDrop
import DeferDropTestSupport
import Testing
import _DeferDropShims

#if canImport(Glibc)
import Glibc
#endif

extension Trait where Self == ConditionTrait {
    /// Disables a test that forks under ThreadSanitizer. About half of such runs
    /// hang in a fork child, in the Swift runtime's lazy metadata initialisation
    /// or TSan's own locks; without it (debug, release, AddressSanitizer) they
    /// pass every time. See Docs/Architecture.md, "fork()".
    static var forkChildrenHangUnderThreadSanitizer: Self {
        .disabled(if: runningUnderThreadSanitizer, "fork() children hang under ThreadSanitizer's runtime")
    }
}

@Suite("Exit drain and fork()")
struct ExitAndForkTests {
    @Test("exit() drains the shared worker: 1,000 destructors write 1,000 lines")
    func exitDrainsSharedWorker() async {
        let path = temporaryPath("exit-drain")
        defer { unlink(path) }
        await #expect(processExitsWith: .success) { [path = path as String] in
            for line in 0..<1_000 {
                deferDrop(LineWriter(path: path, line: line))
            }
            exit(0)
        }
        #expect(lineCount(ofFileAt: path) == 1_000)
    }

    @Test("a private worker, forgotten before exit, drains too")
    func exitDrainsPrivateWorker() async {
        let path = temporaryPath("exit-private")
        defer { unlink(path) }
        await #expect(processExitsWith: .success) { [path = path as String] in
            do {
                let worker = DropWorker(name: "exit-private", capacity: .bounded(100, whenFull: .block))
                for line in 0..<1_000 {
                    worker.dispose(LineWriter(path: path, line: line))
                }
            }
            exit(0)
        }
        #expect(lineCount(ofFileAt: path) == 1_000)
    }

    @Test("drainsAtExit = false keeps the crate's fast exit: queued values are lost")
    func exitWithoutDrain() async {
        let path = temporaryPath("exit-fast")
        defer { unlink(path) }
        await #expect(processExitsWith: .success) { [path = path as String] in
            // Strict, so that every value is queued: the default capacity's
            // producers would free inline once the worker is 20 ms behind.
            let worker = DropWorker(name: "fast-exit", capacity: .unbounded)
            worker.drainsAtExit = false
            // The worker is held up by a destructor that never returns, so
            // nothing after it can be destroyed unless the exit waited.
            let never = HeldLock()
            never.lock()
            deferDrop(OnDestroy { never.lock() }, on: worker)
            for line in 0..<1_000 {
                deferDrop(LineWriter(path: path, line: line), on: worker)
            }
            exit(0)
        }
        #expect(lineCount(ofFileAt: path) == 0)
    }

    @Test(
        "workers let go of while the process forks: neither parent nor child hangs",
        .forkChildrenHangUnderThreadSanitizer)
    func workersReleasedDuringFork() async {
        await #expect(processExitsWith: .success) {
            for round in 0..<100 {
                // The worker's thread still holds its queue when the worker goes
                // away, and lets go of it while the fork is under way: the fork's
                // handlers may then hold the last reference to the queue.
                do {
                    let worker = DropWorker(name: "released-\(round)")
                    worker.dispose(Array(0..<(round * 100)))
                }
                let succeeded = succeedsInForkChild("round \(round)") {
                    let worker = DropWorker(name: "child")
                    worker.dispose([round])
                    return worker.flush(timeout: .seconds(20))
                }
                if !succeeded { exit(1) }
            }
            exit(0)
        }
    }

    @Test(
        "after fork(), the child hands values over and flushes: its worker restarts, nothing hangs",
        .forkChildrenHangUnderThreadSanitizer)
    func forkChildRestartsWorkers() async {
        let path = temporaryPath("fork")
        defer { unlink(path) }
        let result = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) { [path = path as String] in
            let worker = DropWorker(name: "forked", capacity: .bounded(64, whenFull: .block))
            let stop = _Lock(false)
            // Two threads keep the worker's lock and the shared worker busy while we fork.
            for _ in 0..<2 {
                Thread.detach {
                    while !stop.withLock({ $0 }) {
                        worker.dispose([1, 2, 3])
                        deferDrop([4, 5, 6])
                    }
                }
            }
            for round in 0..<10 {
                let succeeded = succeedsInForkChild("fork child \(round)") {
                    let destroyed = _Lock(0)
                    for _ in 0..<500 {
                        worker.dispose(OnDestroy { destroyed.withLock { $0 += 1 } })
                        deferDrop(OnDestroy { destroyed.withLock { $0 += 1 } })
                    }
                    guard worker.flush(timeout: .seconds(20)), DropWorker.shared.flush(timeout: .seconds(20)),
                        destroyed.withLock({ $0 }) == 1_000
                    else {
                        printError("fork child \(round): destroyed \(destroyed.withLock { $0 }) of 1000")
                        return false
                    }
                    // And the exit drain works in the child too.
                    for line in 0..<50 {
                        deferDrop(LineWriter(path: path, line: line))
                    }
                    return true
                }
                if !succeeded { exit(1) }
            }
            stop.withLock { $0 = true }
            await worker.flush()
            exit(0)
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(lineCount(ofFileAt: path) == 10 * 50, "\(message)")
    }

    @Test(
        "a lock kept across fork() is free in the child, its state fixed up, though another thread held it at the fork",
        .forkChildrenHangUnderThreadSanitizer)
    func lockKeptAcrossFork() async {
        await #expect(processExitsWith: .success) {
            // Positive in the parent, where one thread holds it most of the
            // time; the child's fix-up makes it negative.
            let lock = _Lock(1)
            lock.keepAcrossFork(rank: .shardAssignment) { $0 = -$0 }
            let stop = _Lock(false)
            let failed = _Lock<String?>(nil)
            onThreads(2) { index in
                if index == 0 {
                    while !stop.withLock({ $0 }) {
                        lock.withLock { value in
                            busyWork(for: .microseconds(20))
                            value += 1
                        }
                    }
                    return
                }
                defer { stop.withLock { $0 = true } }
                for round in 0..<50 {
                    let succeeded = succeedsInForkChild("round \(round)", seconds: 20, drainingAtExit: false) {
                        lock.withLock { $0 } < 0
                    }
                    let inParent = lock.withLock { $0 }
                    if !succeeded || inParent <= 0 {
                        failed.withLock { $0 = "round \(round): child succeeded \(succeeded), parent's value \(inParent)" }
                        return
                    }
                }
            }
            if let problem = failed.withLock({ $0 }) {
                printError(problem)
                exit(1)
            }
            exit(0)
        }
    }
}
