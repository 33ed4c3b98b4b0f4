import DeferDrop
import DeferDropTestSupport
import Testing
import _DeferDropShims


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
        "a fork at any instant of a lane's reader or of the chunk pool leaves the child a consistent position and a usable pool",
        .forkChildrenHangUnderThreadSanitizer)
    func laneReaderForkedAtAnyInstant() async {
        // In a process of its own: 2,000 forks while a producer, a reader and a
        // pool churner run; the exit status is how many children read a wrong
        // value or hung.
        await #expect(processExitsWith: .exitCode(0)) {
            let misread = childrenMisreadingAForkedLane(forks: 2_000)
            exit(misread < 0 ? 101 : min(100, misread))
        }
    }

    @Test(
        "workers let go of while the process forks: neither parent nor child hangs",
        .forkChildrenHangUnderThreadSanitizer)
    func workersReleasedDuringFork() async {
        let story = temporaryPath("fork-story")
        let result = await #expect(processExitsWith: .success) { [story = story as String] in
            for round in 0..<100 {
                // The worker's thread still holds its queue when the worker goes
                // away, and lets go of it while the fork is under way: the fork's
                // handlers may then hold the last reference to the queue.
                do {
                    let worker = DropWorker(name: "released-\(round)")
                    worker.dispose(Array(0..<(round * 100)))
                }
                let succeeded = succeedsInForkChild("round \(round)", storyPath: story) {
                    let worker = DropWorker(name: "child")
                    worker.dispose([round])
                    return flushesInForkChild(worker, "round \(round)")
                }
                if !succeeded { exit(1) }
            }
            exit(0)
        }
        if let told = forkStory(at: story, ifFailed: result) { Issue.record(Comment(rawValue: told)) }
    }

    @Test(
        "a child's flush() of a worker it hands nothing to destroys the values the worker inherited",
        .forkChildrenHangUnderThreadSanitizer)
    func forkChildFlushesInheritedValues() async {
        let story = temporaryPath("fork-story")
        let result = await #expect(processExitsWith: .success) { [story = story as String] in
            let worker = DropWorker(name: "inherited", capacity: .unbounded)
            let destroyed = _Lock(0)
            for round in 0..<5 {
                // The parent's worker waits inside a destructor, so the values
                // after it are queued, not in its batch, at the fork.
                let entered = HeldLock()
                let gate = HeldLock()
                entered.lock()
                gate.lock()
                deferDrop(OnDestroy { entered.unlock(); gate.lock(); gate.unlock() }, on: worker)
                entered.lock()
                entered.unlock()  // A semaphore ends as it began.
                for _ in 0..<100 {
                    deferDrop(OnDestroy { destroyed.withLock { $0 += 1 } }, on: worker)
                }
                let before = destroyed.withLock { $0 }
                let succeeded = succeedsInForkChild("round \(round)", storyPath: story, drainingAtExit: false) {
                    guard flushesInForkChild(worker, "round \(round)") else { return false }
                    let count = destroyed.withLock { $0 } - before
                    if count != 100 { printError("round \(round): the child destroyed \(count) of 100 inherited values") }
                    return count == 100
                }
                gate.unlock()
                await worker.flush()
                if !succeeded { exit(1) }
            }
            let total = destroyed.withLock { $0 }
            if total != 500 { appendLine("the parent destroyed \(total) of 500 values", toFileAt: story) }
            exit(total == 500 ? 0 : 2)
        }
        if let told = forkStory(at: story, ifFailed: result) { Issue.record(Comment(rawValue: told)) }
    }

    @Test(
        "a worker that forks from a destructor goes on as the child's worker: each value destroyed once, nothing hangs",
        .forkChildrenHangUnderThreadSanitizer)
    func forkFromAWorkersDestructor() async {
        let story = temporaryPath("fork-story")
        let result = await #expect(processExitsWith: .success) { [story = story as String] in
            let worker = DropWorker(name: "forks-itself", capacity: .unbounded)
            let destroyed = _Lock(0)
            let childSucceeded = _Lock(false)
            let handedOver = Signal()
            let count = { @Sendable in destroyed.withLock { $0 += 1 } }
            for _ in 0..<100 { worker.dispose(OnDestroy(count)) }
            worker.dispose(
                OnDestroy {
                    // On the worker's thread, in the parent and, going on, in the
                    // child, which inherits every value handed over.
                    guard handedOver.wait(seconds: 60) else {
                        appendLine("the main thread did not hand its values over within 60 s", toFileAt: story)
                        return
                    }
                    let succeeded = succeedsInForkChildOnANewThread("fork from a destructor", storyPath: story) {
                        for _ in 0..<1_000 { worker.dispose(OnDestroy(count)) }
                        guard flushesInForkChild(worker, "fork from a destructor") else { return false }
                        let statistics = worker.statistics
                        let total = destroyed.withLock { $0 }
                        guard total == 1_200, statistics.pending == 0, statistics.destroyed == statistics.deferred else {
                            printError("the child destroyed \(total) of 1,200 values; its worker's \(statistics)")
                            return false
                        }
                        return true
                    }
                    childSucceeded.withLock { $0 = succeeded }
                })
            for _ in 0..<100 { worker.dispose(OnDestroy(count)) }
            handedOver.raise()
            await worker.flush()
            let total = destroyed.withLock { $0 }
            if total != 200 { appendLine("the parent destroyed \(total) of 200 values", toFileAt: story) }
            exit(childSucceeded.withLock { $0 } && total == 200 ? 0 : 1)
        }
        if let told = forkStory(at: story, ifFailed: result) { Issue.record(Comment(rawValue: told)) }
    }

    @Test(
        "a producer that forks from a destructor it runs for a behind worker goes on draining in the child, where a shutdown waits for it: each value destroyed once",
        .forkChildrenHangUnderThreadSanitizer)
    func forkFromAProducersDrain() async {
        // As in the time bound's give-back test, producer 1 ends up destroying
        // producer 0's values for the worker; the first it destroys forks.
        // Scheduling decides whether producer 1 drains in a round.
        let story = temporaryPath("fork-story")
        let result = await #expect(processExitsWith: .success) { [story = story as String] in
            for round in 0..<10 {
                let label = "round \(round)"
                let worker = DropWorker(name: "drain-forks", capacity: .timeBounded(maximumWait: .milliseconds(20)), priority: .batch)
                worker.drainsAtExit = false
                let log = DestructionLog()
                let childSucceeded = _Lock<Bool?>(nil)
                drainByAProducer(of: worker, log: log, isDone: { childSucceeded.withLock { $0 != nil } }) {
                    guard childSucceeded.withLock({ $0 == nil }) else { return }
                    let succeeded = succeedsInForkChildOnANewThread(label, storyPath: story) {
                        // While the forking thread still drains, most likely: the
                        // shutdown waits for the drain and for what it gives back.
                        worker.shutdown()
                        let first = log.all.filter { $0.producer == 0 }.map(\.sequence)
                        for sequence in 0..<100 { worker.dispose(Probe(log, producer: 2, sequence: sequence)) }
                        let statistics = worker.statistics
                        guard first.sorted() == Array(0..<100), log.all.count(where: { $0.producer == 2 }) == 100,
                            statistics.pending == 0
                        else {
                            printError("\(label): producer 0's values destroyed \(first.sorted()); \(statistics)")
                            return false
                        }
                        return true
                    }
                    childSucceeded.withLock { $0 = succeeded }
                }
                await worker.flush()
                if let succeeded = childSucceeded.withLock({ $0 }) { exit(succeeded ? 0 : 1) }
            }
            appendLine("in 10 rounds, producer 1 never drained the worker's queue", toFileAt: story)
            exit(2)
        }
        if let told = forkStory(at: story, ifFailed: result) { Issue.record(Comment(rawValue: told)) }
    }

    @Test(
        "after fork(), the child hands values over and flushes: its worker restarts, nothing hangs",
        .forkChildrenHangUnderThreadSanitizer)
    func forkChildRestartsWorkers() async {
        let path = temporaryPath("fork")
        let story = temporaryPath("fork-story")
        defer { unlink(path) }
        let result = await #expect(processExitsWith: .success) { [path = path as String, story = story as String] in
            let worker = DropWorker(name: "forked", capacity: .bounded(64, whenFull: .block))
            let phase = _Lock(HammerPhase.hammering)
            // Two threads keep the worker's lock and the shared worker busy
            // while we fork, and pause while a child runs: two threads
            // spinning on two cores for the child's whole life would leave
            // the shared worker's thread, at `.idle`, no CPU in the child
            // (seen: 106 ms run in 46 s, with 415,619 inherited values to
            // destroy), which is `.idle` doing what its docs say.
            for _ in 0..<2 {
                _Thread.detach {
                    while true {
                        switch phase.withLock({ $0 }) {
                        case .hammering:
                            worker.dispose([1, 2, 3])
                            deferDrop([4, 5, 6])
                        case .paused: usleep(200)
                        case .stopped: return
                        }
                    }
                }
            }
            for round in 0..<10 {
                phase.withLock { $0 = .hammering }
                usleep(2_000)
                let succeeded = succeedsInForkChild(
                    "fork child \(round)", storyPath: story, inParentAfterFork: { phase.withLock { $0 = .paused } }
                ) {
                    let destroyed = _Lock(0)
                    for _ in 0..<500 {
                        worker.dispose(OnDestroy { destroyed.withLock { $0 += 1 } })
                        deferDrop(OnDestroy { destroyed.withLock { $0 += 1 } })
                    }
                    let label = "fork child \(round)"
                    guard flushesInForkChild(worker, label), flushesInForkChild(.shared, label) else { return false }
                    guard destroyed.withLock({ $0 }) == 1_000 else {
                        printError("\(label): destroyed \(destroyed.withLock { $0 }) of 1000 after both flushes")
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
            phase.withLock { $0 = .stopped }
            await worker.flush()
            exit(0)
        }
        if let told = forkStory(at: story, ifFailed: result) { Issue.record(Comment(rawValue: told)) }
        #expect(lineCount(ofFileAt: path) == 10 * 50)
    }

    @Test(
        "a lock kept across fork() is free in the child, its state fixed up, though another thread held it at the fork",
        .forkChildrenHangUnderThreadSanitizer)
    func lockKeptAcrossFork() async {
        let story = temporaryPath("fork-story")
        let result = await #expect(processExitsWith: .success) { [story = story as String] in
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
                    let succeeded = succeedsInForkChild(
                        "round \(round)", storyPath: story, seconds: 20, drainingAtExit: false
                    ) {
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
        if let told = forkStory(at: story, ifFailed: result) { Issue.record(Comment(rawValue: told)) }
    }

    @Test(
        "a child's worker meets classes new to the runtime while a parent thread held its conformance lock at the fork",
        .forkChildrenHangUnderThreadSanitizer)
    func forkWhileTheRuntimeLearnsTypes() async {
        let story = temporaryPath("fork-story")
        let result = await #expect(processExitsWith: .success) { [story = story as String] in
            // Finds conformances of types the runtime has never seen, without
            // end: it holds the runtime's conformance-cache lock much of the
            // time, and a child forked meanwhile inherits it held.
            _Thread.detach { findConformancesOfNewTypes { true } }
            for round in 0..<60 {
                // Classes whose metadata exists but that were never cast:
                // the child hands them over, and only its worker looks at them.
                var objects: [any AnyObject & Sendable] = []
                for index in 0..<8 {
                    objects.append(objectOfNewClass(round * 8 + index))
                }
                let worker = DropWorker(name: "runtime-\(round)", capacity: round % 2 == 0 ? .unbounded : .server)
                let succeeded = succeedsInForkChild("round \(round)", storyPath: story, drainingAtExit: false) {
                    while let object = objects.popLast() {
                        worker.dispose(object)
                        worker.dispose([object])
                    }
                    return flushesInForkChild(worker, "round \(round)")
                }
                if !succeeded { exit(1) }
            }
            exit(0)
        }
        if let told = forkStory(at: story, ifFailed: result) { Issue.record(Comment(rawValue: told)) }
    }
}

/// What the hammering threads of `forkChildRestartsWorkers` do.
private enum HammerPhase: Sendable {
    case hammering, paused, stopped
}

