// The probe's process-level modes, each measured across fresh processes:
//
//     probe first [shared|private]   the first hand-off of this process, in µs
//     probe first busy               the same to the shared worker, from an actor,
//                                    while 8 threads keep every core busy
//     probe cli [ROUNDS]             a CLI's time from its answer to its exit,
//                                    inline, deferred, and deferred with
//                                    `drainsAtExit = false`, ROUNDS processes
//                                    each (default 7), alternating
//     probe cli-run MODE             one such CLI (what `probe cli` spawns)
import DeferDrop
import Dispatch
import Foundation
import Synchronization

/// Runs `mode` if it is one of this file's and returns `true`; `false` for the other modes.
func runProcessMode(_ mode: String, _ arguments: ArraySlice<String>) -> Bool {
    switch mode {
    case "first" where arguments.first == "busy":
        print(firstHandOffWhileBusy())
    case "first":
        print(firstHandOff(toShared: arguments.first != "private"))
    case "cli":
        timeCLIExits(rounds: Int(arguments.first ?? "") ?? 7)
    case "cli-run":
        runCLI(arguments.first ?? "inline")
    default:
        return false
    }
    return true
}

/// Microseconds that this process's first hand-off takes: to ``DropWorker/shared``
/// (which that hand-off creates), or to a private worker made just before.
@inline(never)
func firstHandOff(toShared: Bool) -> Double {
    let leaf = Leaf()
    let worker = toShared ? nil : DropWorker(name: "first")
    _ = monotonicNanoseconds()
    let start = monotonicNanoseconds()
    if let worker {
        worker.dispose(consume leaf)
    } else {
        deferDrop(consume leaf)
    }
    let elapsed = monotonicNanoseconds() - start
    return (Double(elapsed) / 100).rounded() / 10
}

/// An actor that makes the process's first hand-off.
actor Indexer {
    @inline(never)
    func handOverFirst() -> UInt64 {
        let leaf = Leaf()
        let start = monotonicNanoseconds()
        deferDrop(consume leaf)
        return monotonicNanoseconds() - start
    }
}

/// Microseconds of this process's first hand-off, to ``DropWorker/shared``,
/// made by an actor while 8 threads spin on every core.
func firstHandOffWhileBusy() -> Double {
    final class Run: Sendable {
        let stop = Atomic<Bool>(false)
        let result = Mutex<UInt64>(0)
        let done = DispatchSemaphore(value: 0)
    }
    let run = Run()
    for _ in 0..<8 {
        Thread {
            var spins = 0
            while !run.stop.load(ordering: .relaxed) { spins &+= 1 }
            if spins == -1 { print(spins) }
        }.start()
    }
    // Let the spinners take every core first.
    usleep(50_000)
    Task.detached {
        let elapsed = await Indexer().handOverFirst()
        run.result.withLock { $0 = elapsed }
        run.done.signal()
    }
    run.done.wait()
    run.stop.store(true, ordering: .relaxed)
    return (Double(run.result.withLock { $0 }) / 100).rounded() / 10
}

/// `CLOCK_MONOTONIC`, which a parent process reads the same as its child.
func monotonicNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

// MARK: A CLI's exit

struct Record {
    let id: Int
    let name: String  // longer than 15 bytes: allocated, as most real names are
    let score: Double
}

/// 1,500,000 records under 100,000 keys.
@inline(never)
func buildRecords() -> [String: [Record]] {
    var records: [String: [Record]] = [:]
    for id in 0..<1_500_000 {
        records["customer-number-\(id % 100_000)", default: []].append(
            Record(id: id, name: "record-with-a-long-name-\(id)", score: Double(id % 7)))
    }
    return records
}

/// One CLI run: builds the records, prints its answer with the time it did,
/// then drops the records as `mode` says and returns, and the process exits.
@inline(never)
func runCLI(_ mode: String) {
    let records = buildRecords()
    let answer = records.values.reduce(0) { $0 + $1.count { $0.score == 3 } }
    // Unbuffered, so that the line is out before the drop starts.
    FileHandle.standardOutput.write(Data("answer \(answer) at \(monotonicNanoseconds())\n".utf8))
    switch mode {
    case "inline":
        _ = consume records
    case "deferred":
        deferDrop(consume records)
    case "no-drain":
        DropWorker.shared.drainsAtExit = false
        deferDrop(consume records)
    default:
        fatalError("probe cli-run: the mode is 'inline', 'deferred' or 'no-drain', not '\(mode)'")
    }
}

/// Spawns `rounds` CLI processes per mode, alternating, and prints each mode's
/// median time from the answer to the end of the process (`waitpid` returning).
func timeCLIExits(rounds: Int) {
    let modes = ["inline", "deferred", "no-drain"]
    var milliseconds = [String: [Double]]()
    for _ in 0..<rounds {
        for mode in modes {
            milliseconds[mode, default: []].append(answerToExit(of: mode))
        }
    }
    let inline = median(milliseconds["inline"]!)
    for mode in modes {
        let values = milliseconds[mode]!
        let ratio = (median(values) / inline * 100).rounded() / 100
        print("cli, \(mode): answer to exit \(format(median(values))) ms (\(ratio)x inline; median of \(rounds): \(values.map(format).joined(separator: " ")))")
    }
}

private func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
private func format(_ value: Double) -> String { "\((value * 10).rounded() / 10)" }

/// Milliseconds from one CLI process's answer until the process has ended.
private func answerToExit(of mode: String) -> Double {
    let output = FileManager.default.temporaryDirectory.appendingPathComponent("probe-cli-\(getpid()).txt").path
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    let arguments: [String] = ["/proc/self/exe", "cli-run", mode]
    let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { for argument in argv { free(argument) } }
    var child = pid_t()
    let spawned = posix_spawn(&child, "/proc/self/exe", &actions, nil, argv, environ)
    precondition(spawned == 0, "probe cli: posix_spawn returned \(spawned)")
    var status: Int32 = 0
    while waitpid(child, &status, 0) < 0 && errno == EINTR {}
    let ended = monotonicNanoseconds()
    let line = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
    unlink(output)
    guard status == 0, let answered = line.split(separator: " ").last.flatMap({ UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
    else { fatalError("probe cli-run \(mode) exited with status \(status), printing '\(line)'") }
    return Double(ended - answered) / 1e6
}
