public import DeferDrop
import _DeferDropTestShims


// Fork children for the tests of fork(), and the story a failing one tells.
//
// A fork test runs in an exit test (a process of its own), which forks
// children and checks each. When a child fails, the exit test fails, and
// Swift Testing then gives back none of that process's output. So each
// child writes its standard error into a story file the test names, the
// exit-test process adds what it saw of a child that hung, and the test
// reads the file back when the exit test failed (`forkStory(at:ifFailed:)`).

/// Forks `forks` times while one thread appends to a lane, another takes from
/// it without a lock, and a third churns the lanes' shared chunk pool; returns
/// how many children found a value in the wrong slot at the position they
/// inherited, or hung on the pool (negative: a thread of the parent failed).
public func childrenMisreadingAForkedLane(forks: Int32) -> Int32 {
    // Its first worker installs the fork handlers, which cover the pool.
    _ = DropWorker.shared
    return _deferdrop_test_lane_fork_stress(forks)
}

/// Forks this process. The child sends its standard error to the end of
/// the file at `storyPath`, turns the leak check off, runs `body`, and ends
/// with status 0 if `body` returned `true`, 1 otherwise: through `exit`, so
/// that the exit drain runs, or with `drainingAtExit: false` through
/// `_exit`. The parent runs `inParentAfterFork`, then waits up to `seconds`
/// for the child and returns whether it succeeded, after adding why not to
/// the story, named by `label`.
public func succeedsInForkChild(
    _ label: String, storyPath: String, seconds: Double = 60, drainingAtExit: Bool = true,
    inParentAfterFork: () -> Void = {}, _ body: () -> Bool
) -> Bool {
    let child = _deferdrop_fork()
    if child == 0 {
        beginChildsStory(at: storyPath)
        let status: Int32 = body() ? 0 : 1
        if drainingAtExit { exit(status) } else { _exit(status) }
    }
    if child > 0 { inParentAfterFork() }
    return childSucceeds(child, label, storyPath: storyPath, seconds: seconds)
}

/// Forks this process, as from a destructor that a worker runs: in the
/// child, the forking thread returns `true` at once and goes on, while a new
/// thread sends standard error to the story, runs `body` and ends the child
/// through `exit` (so that the exit drain runs), with status 0 if `body`
/// returned `true`. In the parent, as `succeedsInForkChild`.
public func succeedsInForkChildOnANewThread(
    _ label: String, storyPath: String, seconds: Double = 60, _ body: @escaping @Sendable () -> Bool
) -> Bool {
    let child = _deferdrop_fork()
    if child == 0 {
        _Thread.detach {
            beginChildsStory(at: storyPath)
            exit(body() ? 0 : 1)
        }
        return true
    }
    return childSucceeds(child, label, storyPath: storyPath, seconds: seconds)
}

/// In a fork child: sends standard error to the end of the file at
/// `storyPath` and turns the leak check off.
private func beginChildsStory(at storyPath: String) {
    let story = open(storyPath, O_WRONLY | O_APPEND | O_CREAT, 0o644)
    if story >= 0 {
        dup2(story, 2)
        close(story)
    }
    turnOffLeakCheckAtExit()
}

/// In the parent: waits up to `seconds` for `child` and returns whether it
/// succeeded, after adding why not to the story: for a child that hung,
/// every thread's state and stack as the child was then.
private func childSucceeds(_ child: Int32, _ label: String, storyPath: String, seconds: Double) -> Bool {
    guard child > 0 else {
        appendLine("\(label): fork failed: \(errno)", toFileAt: storyPath)
        return false
    }
    switch waitForChild(child, seconds: seconds) {
    case .exited(code: 0):
        return true
    case .exited(let code):
        appendLine("\(label): the child failed: exit code \(code)", toFileAt: storyPath)
    case .killed:
        appendLine("\(label): the child was killed by a signal", toFileAt: storyPath)
    case .running:
        // It hung. Say what it was doing before ending it.
        appendLine("\(label): the child hung for \(seconds) s; as it was then:\n\(describeProcess(child))", toFileAt: storyPath)
        kill(child, SIGKILL)
        _ = waitForChild(child, seconds: 3_600)
    }
    return false
}

/// In a fork child whose wait for a worker timed out: writes `what`, every
/// worker's state and every thread's state and stack to standard error
/// (the story, in a child of `succeedsInForkChild`).
public func tellStoryOfTimeout(_ what: String) {
    printError("\(what). Every worker, as the child sees it:")
    for diagnosis in DropWorker._diagnosesOfEveryWorker { printError("  \(diagnosis)") }
    // Without stacks: gdb cannot reliably trace the process that waits for it.
    printError(describeProcess(getpid(), withStacks: false))
}

/// After an exit test that forked through `succeedsInForkChild`, given
/// what it returned (`nil` when it failed): what its children told, for the
/// test to record, or `nil` if it passed. Removes the story file.
public func forkStory(at storyPath: String, ifFailed result: Any?) -> String? {
    defer { unlink(storyPath) }
    guard result == nil else { return nil }
    let story = String(decoding: contents(ofFileAt: storyPath), as: UTF8.self)
    return "What the fork children told:\n" + (story.isEmpty ? "(nothing)" : story)
}

/// How a child process ended, if it did.
private enum ChildEnd: Equatable {
    case exited(code: Int32)
    case killed
    case running
}

/// Waits up to `seconds` for the child process `pid` to end.
///
/// The bound is on the child's work. Once its main thread has exited, what
/// is left is the kernel's teardown of its other threads, each of which must
/// run once to die; a worker at `.idle` priority (`SCHED_IDLE`) on a busy
/// machine can wait seconds for that turn. That is slow, not hung, so the
/// teardown gets a bound of its own, `teardownSeconds` more.
private func waitForChild(_ pid: Int32, seconds: Double, teardownSeconds: Double = 300) -> ChildEnd {
    let workDeadline = ContinuousClock.now + .seconds(seconds)
    let teardownDeadline = workDeadline + .seconds(teardownSeconds)
    var status: Int32 = 0
    while true {
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid { break }
        precondition(result == 0, "waitpid failed: \(errno)")
        let now = ContinuousClock.now
        if now > workDeadline && (now > teardownDeadline || !mainThreadHasExited(pid)) { return .running }
        usleep(1_000)
    }
    return status & 0x7f == 0 ? .exited(code: (status >> 8) & 0xff) : .killed
}

/// Whether process `pid`'s main thread has exited (it is a zombie), leaving
/// only the teardown of its other threads.
private func mainThreadHasExited(_ pid: Int32) -> Bool {
    statFields(ofThreadAt: "/proc/\(pid)/task/\(pid)").first == "Z"
}

/// The fields of a thread's `stat` file after its name, which is in
/// parentheses and may hold spaces: the state first (proc(5)).
private func statFields(ofThreadAt path: String) -> [Substring] {
    text(ofFileAt: "\(path)/stat").split(separator: ")").last.map { $0.split(separator: " ") } ?? []
}

/// Every thread of process `pid`: its id, name, state, scheduling policy,
/// CPU time, where it sleeps in the kernel and the system call it is in
/// (number and first argument: for a futex, its address); then, unless
/// `withStacks` is false, every thread's stack, from gdb where it is installed.
public func describeProcess(_ pid: Int32, withStacks: Bool = true) -> String {
    var lines = [
        "threads of process \(pid) (id, name, state, policy, ms run, ms waited to run, kernel wait, system call):"
    ]
    let tasks = "/proc/\(pid)/task"
    var futexAddresses: Set<UInt> = []
    for tid in directoryEntries(tasks) {
        let path = "\(tasks)/\(tid)"
        let name = text(ofFileAt: "\(path)/comm").trimmingTrailingNewline
        let fields = statFields(ofThreadAt: path)
        let state = fields.first.map(String.init) ?? "?"
        // stat(5): field 41 is the policy; after the name, index 41 - 3.
        let policy = fields.count > 38 ? policyName(Int(fields[38]) ?? -1) : "?"
        let schedstat = text(ofFileAt: "\(path)/schedstat").split(separator: " ").compactMap { UInt64($0) }
        let run = schedstat.count > 0 ? "\(schedstat[0] / 1_000_000)" : "?"
        let wait = schedstat.count > 1 ? "\(schedstat[1] / 1_000_000)" : "?"
        let wchan = text(ofFileAt: "\(path)/wchan")
        let call = text(ofFileAt: "\(path)/syscall").split(separator: " ").prefix(2)
        if call.first == "202", call.count == 2, let address = UInt(call[1].dropFirst(2), radix: 16) {
            futexAddresses.insert(address)
        }
        lines.append(
            "  \(tid) \(name) \(state) \(policy) run \(run) wait \(wait) in \(wchan.isEmpty ? "-" : wchan) syscall \(call.joined(separator: " "))")
    }
    lines.append(contentsOf: mappings(of: futexAddresses, pid: pid))
    guard withStacks else { return lines.joined(separator: "\n") }
    lines.append("stacks (gdb):")
    let pipe = temporaryPath("gdb")
    let output = open(pipe, O_RDWR | O_CREAT | O_TRUNC, 0o600)
    defer {
        close(output)
        unlink(pipe)
    }
    if _deferdrop_write_backtraces(pid, output, 60) < 0 {
        lines.append("  (gdb is not installed or did not finish)")
    }
    lines.append(text(ofFileAt: pipe))
    return lines.joined(separator: "\n")
}

/// For each futex address in `addresses`: the mapping of process `pid` it
/// lies in, and its offset there, to name the lock.
private func mappings(of addresses: Set<UInt>, pid: Int32) -> [String] {
    guard !addresses.isEmpty else { return [] }
    var found = ["futex addresses (mapping, offset in its file):"]
    for line in text(ofFileAt: "/proc/\(pid)/maps").split(separator: "\n") {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        let bounds = fields[0].split(separator: "-").compactMap { UInt($0, radix: 16) }
        guard bounds.count == 2, fields.count >= 5 else { continue }
        for address in addresses where bounds[0] <= address && address < bounds[1] {
            let offset = (UInt(fields[2], radix: 16) ?? 0) + address - bounds[0]
            let file = fields.count > 5 ? String(fields[5]) : "(anonymous)"
            found.append("  0x\(String(address, radix: 16)): \(file) +0x\(String(offset, radix: 16))")
        }
    }
    return found
}

private func policyName(_ policy: Int) -> String {
    switch policy {
    case 0: "normal"
    case 3: "batch"
    case 5: "idle"
    default: "policy \(policy)"
    }
}

private func text(ofFileAt path: String) -> String {
    String(decoding: contents(ofFileAt: path), as: UTF8.self)
}

private func directoryEntries(_ path: String) -> [String] {
    guard let directory = opendir(path) else { return [] }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        if name != ".", name != ".." { names.append(name) }
    }
    return names.sorted { (Int($0) ?? 0) < (Int($1) ?? 0) }
}

extension String {
    fileprivate var trimmingTrailingNewline: String {
        hasSuffix("\n") ? String(dropLast()) : self
    }
}

/// Set in the child of a `fork()` of this multi-threaded test process, whose
/// memory includes objects only the parent's threads referenced: LeakSanitizer
/// would report them at the child's exit, though nothing leaked in the parent.
private let leakCheckIsOff = _Lock(false)

/// Turns LeakSanitizer's check at exit off for this process (a fork child).
public func turnOffLeakCheckAtExit() {
    leakCheckIsOff.withLock { $0 = true }
}

/// LeakSanitizer's hook: it asks before checking, at exit, whether to skip.
@_cdecl("__lsan_is_turned_off")
public func _lsanIsTurnedOff() -> Int32 {
    leakCheckIsOff.withLock { $0 } ? 1 : 0
}

/// In a fork child: flushes `worker`, waiting at most `seconds`; when that
/// runs out, tells the story (`tellStoryOfTimeout`), named by `label`, and
/// returns false.
public func flushesInForkChild(_ worker: DropWorker, _ label: String, seconds: Int = 20) -> Bool {
    if worker.flush(timeout: .seconds(seconds)) { return true }
    tellStoryOfTimeout("\(label): flush() of DropWorker \"\(worker.name)\" timed out after \(seconds) s")
    return false
}
