public import DeferDrop
import Dispatch
import _DeferDropShims
import _DeferDropTestShims


/// The calling thread's identity.
public func currentThread() -> UInt { UInt(bitPattern: Int(bitPattern: pthread_self())) }

/// The calling thread's OS name. Where the platform layer names no threads
/// (the POSIX-only one), a worker's thread answers the name its worker gives
/// it, and any other thread "".
public func currentThreadName() -> String {
    guard threadsHaveNames else { return _ThreadRole.workerThreadName ?? "" }
    var buffer = [CChar](repeating: 0, count: 64)
    let result = _deferdrop_get_current_thread_name(&buffer, UInt(buffer.count))
    precondition(result == 0, "pthread_getname_np failed: \(result)")
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Whether this build's platform layer names threads.
public let threadsHaveNames = _deferdrop_thread_name_capacity() > 0

/// Where and in what order probes were destroyed.
public final class DestructionLog: Sendable {
    public struct Entry: Sendable, Hashable {
        public var producer: Int
        public var sequence: Int
        public var thread: UInt
        public var onCreator: Bool

        public init(producer: Int, sequence: Int, thread: UInt, onCreator: Bool) {
            self.producer = producer
            self.sequence = sequence
            self.thread = thread
            self.onCreator = onCreator
        }
    }

    private let entries = _Lock<[Entry]>([])
    /// The threads that made the probes destroyed so far: the producers.
    private let creators = _Lock<Set<UInt>>([])

    public init() {}

    public func record(_ entry: Entry) {
        entries.withLock { $0.append(entry) }
    }

    /// Records a destruction happening now, on the calling thread, of
    /// something made on `creator`.
    public func recordDestruction(producer: Int = 0, sequence: Int, creator: UInt) {
        let thread = currentThread()
        creators.withLock { _ = $0.insert(creator) }
        record(Entry(producer: producer, sequence: sequence, thread: thread, onCreator: thread == creator))
    }

    public var all: [Entry] { entries.withLock { $0 } }
    public var count: Int { entries.withLock { $0.count } }

    /// Destructions that ran on the thread that created the probe.
    public var onCreatorCount: Int { entries.withLock { $0.count { $0.onCreator } } }

    /// Destructions that ran on a thread that created probes, its own or
    /// another's: a producer's thread, where a time-bounded worker that is
    /// behind lets values be destroyed (`DropStatistics.destroyedInline`).
    public var onProducerCount: Int {
        let creators = creators.withLock { $0 }
        return entries.withLock { $0.count { creators.contains($0.thread) } }
    }

    /// The distinct threads that destroyed probes.
    public var threads: Set<UInt> { entries.withLock { Set($0.map(\.thread)) } }

    /// Whether every (producer, sequence) in the log appears exactly once and
    /// `expected` per producer, each producer's in increasing order.
    public func checkExactlyOnceInOrder(producers: Int, perProducer expected: Int) -> String? {
        let entries = all
        var next = [Int](repeating: 0, count: producers)
        for entry in entries {
            guard next[entry.producer] == entry.sequence else {
                return "producer \(entry.producer): expected sequence \(next[entry.producer]), destroyed \(entry.sequence)"
            }
            next[entry.producer] += 1
        }
        for producer in 0..<producers where next[producer] != expected {
            return "producer \(producer): \(next[producer]) destroyed, expected \(expected)"
        }
        return nil
    }

    /// The default capacity's promise, which may destroy a value inline while
    /// its worker is behind: every (producer, sequence) appears exactly once
    /// and `expected` per producer, and the ones destroyed off their
    /// creator's thread (deferred) in each producer's increasing order. An
    /// inline one may overtake its producer's queued ones.
    public func checkExactlyOnceDeferredInOrder(producers: Int, perProducer expected: Int) -> String? {
        var seen = [Set<Int>](repeating: [], count: producers)
        var lastDeferred = [Int](repeating: -1, count: producers)
        for entry in all {
            guard seen[entry.producer].insert(entry.sequence).inserted else {
                return "producer \(entry.producer): sequence \(entry.sequence) destroyed twice"
            }
            if !entry.onCreator {
                guard entry.sequence > lastDeferred[entry.producer] else {
                    return "producer \(entry.producer): deferred \(entry.sequence) after \(lastDeferred[entry.producer])"
                }
                lastDeferred[entry.producer] = entry.sequence
            }
        }
        for producer in 0..<producers where seen[producer].count != expected {
            return "producer \(producer): \(seen[producer].count) destroyed, expected \(expected)"
        }
        return nil
    }

    /// Order across threads under a time bound, for one producer's probes
    /// handed over from many threads: each sequence from 0 to `expected`
    /// appears exactly once, and every one destroyed off its creator
    /// (deferred) whose sequence `isOrdered` accepts comes after every
    /// deferred one with a smaller sequence. What a producer freed inline may
    /// come at any time, and deferred ones that are not ordered keep only
    /// their own thread's order.
    public func checkExactlyOnceOrderedAfterEarlier(expected: Int, isOrdered: (Int) -> Bool) -> String? {
        let entries = all
        let sequences = Set(entries.map(\.sequence))
        guard entries.count == expected, sequences == Set(0..<expected) else {
            return "\(entries.count) destroyed, \(sequences.count) distinct, expected \(expected) once each"
        }
        // The smallest deferred sequence destroyed after each position.
        var smallestLater = Int.max
        for sequence in entries.filter({ !$0.onCreator }).map(\.sequence).reversed() {
            if isOrdered(sequence), smallestLater < sequence {
                return "deferred \(smallestLater) after the ordered \(sequence)"
            }
            smallestLater = min(smallestLater, sequence)
        }
        return nil
    }

    /// Destructions that ran on a producer's thread other than the probe's
    /// creator: values a producer took from a worker that was behind.
    public var onOtherProducerCount: Int {
        let creators = creators.withLock { $0 }
        return entries.withLock { $0.count { !$0.onCreator && creators.contains($0.thread) } }
    }
}

/// A class whose deinit records the thread it runs on. Not `Sendable` on
/// purpose: hand-offs must work for values the compiler can prove are transferred.
public final class Probe {
    public let log: DestructionLog
    public let producer: Int
    public let sequence: Int
    public let creator = currentThread()

    public init(_ log: DestructionLog, producer: Int = 0, sequence: Int = 0) {
        self.log = log
        self.producer = producer
        self.sequence = sequence
    }

    deinit {
        log.recordDestruction(producer: producer, sequence: sequence, creator: creator)
    }
}

/// A noncopyable value whose deinit records the thread it runs on.
public struct UniqueProbe: ~Copyable {
    public let log: DestructionLog
    public var payload: [Int]
    public let creator = currentThread()

    public init(_ log: DestructionLog, payload: [Int] = [1, 2, 3]) {
        self.log = log
        self.payload = payload
    }

    deinit {
        log.recordDestruction(sequence: payload.count, creator: creator)
    }
}

/// Runs `body(index)` on `count` new OS threads at once and waits for all of them.
public func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let threads = (0..<count).map { index in _Thread { body(index) } }
    for thread in threads { thread.join() }
}

/// The time bound's drain, as two producers make it happen: producer 0 hands
/// `worker` 100 values that each take 2 ms to destroy, logged as producer 0's;
/// producer 1 then hands over a probe every 5 ms until `isDone()` or 2 s have
/// passed, finds the worker behind and destroys producer 0's values itself.
/// Each value destroyed in such a drain (on neither its creator's thread nor a
/// worker's) then calls `inProducersDrain`. Returns once both producers have.
public func drainByAProducer(
    of worker: DropWorker, log: DestructionLog, isDone: @escaping @Sendable () -> Bool,
    inProducersDrain: @escaping @Sendable () -> Void
) {
    let queued = Signal()
    onThreads(2) { producer in
        if producer == 0 {
            let creator = currentThread()
            for value in 0..<100 {
                worker.dispose(
                    OnDestroy {
                        usleep(2_000)
                        log.recordDestruction(producer: 0, sequence: value, creator: creator)
                        if currentThread() != creator && _deferdrop_worker_thread_state() == nil { inProducersDrain() }
                    })
            }
            queued.raise()
            return
        }
        guard queued.wait(seconds: 10) else { return }
        let deadline = ContinuousClock.now + .seconds(2)
        var sequence = 0
        while !isDone(), ContinuousClock.now < deadline {
            worker.dispose(Probe(log, producer: 1, sequence: sequence))
            sequence += 1
            usleep(5_000)
        }
    }
}

/// A one-shot signal with a bounded wait, for the few tests that must wait for
/// something no API reports (a worker stopping after its last reference went).
public final class Signal: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)

    public init() {}

    public func raise() { semaphore.signal() }

    /// Waits up to `seconds` for `raise()`; returns whether it came.
    public func wait(seconds: Double) -> Bool {
        semaphore.wait(timeout: .now() + seconds) == .success
    }
}

/// Has `producers` new threads each hand `perProducer` sequence-numbered probes
/// to `disposer`, and returns once every thread has handed all of them over.
/// With `slow`, each probe's destructor takes 1 ms.
///
/// With `together`, every producer hands over its first value and then waits
/// (up to 60 s, then stops the program) until all have: so all are alive and
/// have used `disposer` at once, as a pool's least-loaded pinning needs to be
/// tested (a quick producer could otherwise end, and unpin, before the last
/// one started).
public func handOverSequenced(
    producers: Int, perProducer: Int, slow: Bool = false, together: Bool = false,
    to disposer: some Disposer, log: DestructionLog
) {
    precondition(!together || perProducer >= 2, "handOverSequenced(together: true) needs 2 or more values per producer, not \(perProducer)")
    let started = DispatchGroup()
    if together { for _ in 0..<producers { started.enter() } }
    onThreads(producers) { producer in
        for sequence in 0..<perProducer {
            if together, sequence == 1 {
                started.leave()
                precondition(
                    started.wait(timeout: .now() + 60) == .success,
                    "\(producers) producers did not all start within 60 s")
            }
            if slow {
                disposer.dispose(SlowProbe(log, producer: producer, sequence: sequence))
            } else {
                disposer.dispose(Probe(log, producer: producer, sequence: sequence))
            }
        }
    }
}

/// Runs `body` on a new OS thread, waits for the thread to exit, and returns
/// what `body` returned.
public func onNewThread<Result: Sendable>(_ body: @escaping @Sendable () -> Result) -> Result {
    let result = _Lock<Result?>(nil)
    onThreads(1) { _ in
        let value = body()
        result.withLock { $0 = value }
    }
    return result.withLock { $0! }
}

/// What `observe` returns on the thread where `disposer` destroys values: it
/// runs in the destructor of a value handed over.
///
/// A time-bounded worker that is behind (the shared one, busy with other
/// tests' values) frees a value on a producer's thread instead, the caller's
/// or, draining the queue, another's: such a try is not the worker's, and
/// another value is handed over, a millisecond later, for up to 60 seconds.
/// (A worker at `.idle` under a full test run can be starved, and so behind,
/// for seconds: a thousand quick tries were not enough in CI.) `nil` if none
/// reached the worker.
public func observeOnWorker<Observed: Sendable>(
    of disposer: some Disposer, _ observe: @escaping @Sendable () -> Observed
) -> Observed? {
    let deadline = ContinuousClock.now + .seconds(60)
    repeat {
        // Whether the probe ran on a worker's thread: a time-bounded worker
        // that is behind lets its producers free values, this test's or,
        // draining the queue, another test's thread.
        let seen = _Lock<(onWorker: Bool, observed: Observed)?>(nil)
        disposer.dispose(OnDestroy { seen.withLock { $0 = (_deferdrop_worker_thread_state() != nil, observe()) } })
        disposer.flush()
        guard let (onWorker, observed) = seen.withLock({ $0 }) else { return nil }
        if onWorker { return observed }
        usleep(1_000)
    } while ContinuousClock.now < deadline
    return nil
}

/// The OS name of the thread on which `disposer` destroys values.
public func nameOfThread(destroyingOn disposer: some Disposer) -> String {
    observeOnWorker(of: disposer) { currentThreadName() } ?? "<none>"
}

extension DropStatistics {
    /// The counters alone, for comparing with expected counts in builds that
    /// measure bytes and builds that do not.
    public var counts: DropStatistics {
        DropStatistics(deferred: deferred, destroyed: destroyed, peakPending: peakPending)
    }
}

/// A class whose deinit takes `duration` (sleeping, not spinning), then
/// records the thread it ran on: a slow destructor.
public final class SlowProbe {
    public let log: DestructionLog
    public let producer: Int
    public let sequence: Int
    public let duration: Duration
    public let creator = currentThread()

    public init(_ log: DestructionLog, producer: Int = 0, sequence: Int = 0, duration: Duration = .milliseconds(1)) {
        self.log = log
        self.producer = producer
        self.sequence = sequence
        self.duration = duration
    }

    deinit {
        let (seconds, attoseconds) = duration.components
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 { request = remaining }
        log.recordDestruction(producer: producer, sequence: sequence, creator: creator)
    }
}

/// The scheduling class of the thread on which `disposer` destroys values,
/// as the system reports it; `nil` if no value reached it.
public func schedulingClassOfThread(destroyingOn disposer: some Disposer) -> DropSchedulingClass? {
    observeOnWorker(of: disposer) { DropSchedulingClass(_layerClass: _deferdrop_current_thread_scheduling()) }
}

/// The calling thread's scheduling class, as the system reports it.
public func schedulingClassOfCurrentThread() -> DropSchedulingClass {
    DropSchedulingClass(_layerClass: _deferdrop_current_thread_scheduling())
}

extension DropPriority {
    /// The class the system should report for a worker's thread at this
    /// priority: the priority's own, or, where the platform layer sets none,
    /// the class the tests' threads run in (SCHED_OTHER on Linux).
    public var observedSchedulingClass: DropSchedulingClass {
        schedulingClass == .unchanged ? schedulingClassOfCurrentThread() : schedulingClass
    }
}

/// Runs a closure when destroyed.
public final class OnDestroy {
    let action: @Sendable () -> Void
    public init(_ action: @escaping @Sendable () -> Void) { self.action = action }
    deinit { action() }
}

/// A lock that one thread can hold across calls, as user code holds its own locks.
public final class HeldLock: Sendable {
    private let semaphore = DispatchSemaphore(value: 1)
    public init() {}
    public func lock() { semaphore.wait() }
    public func unlock() { semaphore.signal() }
}

/// Keeps every core busy with spinning threads until `body` returns.
public func withAllCoresBusy<Result>(threads: Int, _ body: () -> Result) -> Result {
    let stop = _Lock(false)
    let started = DispatchSemaphore(value: 0)
    let finished = DispatchSemaphore(value: 0)
    for _ in 0..<threads {
        _Thread.detach {
            started.signal()
            var spins: UInt64 = 0
            while !stop.withLock({ $0 }) {
                for _ in 0..<10_000 { spins &+= 1 }
            }
            _ = spins
            finished.signal()
        }
    }
    for _ in 0..<threads { started.wait() }
    defer {
        stop.withLock { $0 = true }
        for _ in 0..<threads { finished.wait() }
    }
    return body()
}

/// The bytes of the file at `path`; none if it does not exist.
public func contents(ofFileAt path: String) -> [UInt8] {
    guard let file = fopen(path, "r") else { return [] }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = fread(&buffer, 1, buffer.count, file)
        if count == 0 { break }
        bytes += buffer[..<count]
    }
    return bytes
}

/// The lines of the file at `path`; none if it does not exist.
public func lines(ofFileAt path: String) -> [String] {
    String(decoding: contents(ofFileAt: path), as: UTF8.self).split(separator: "\n").map(String.init)
}

/// Lines in the file at `path`, or 0 if it does not exist.
public func lineCount(ofFileAt path: String) -> Int {
    contents(ofFileAt: path).count { $0 == UInt8(ascii: "\n") }
}

/// Appends `line` and a newline to the file at `path`, in one write.
public func appendLine(_ line: String, toFileAt path: String) {
    let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
    precondition(descriptor >= 0, "open(\(path)) failed: \(errno)")
    defer { close(descriptor) }
    let bytes = Array((line + "\n").utf8)
    let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
    precondition(written == bytes.count, "write to \(path) failed: \(errno)")
}

/// A fresh path in the temporary directory; the file does not exist.
public func temporaryPath(_ label: String) -> String {
    let path = "/tmp/deferdrop-\(label)-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    unlink(path)
    return path
}

/// Writes `message` and a newline to standard error, unbuffered: for child
/// processes that report why they fail.
public func printError(_ message: String) {
    let bytes = Array((message + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

/// Whether ThreadSanitizer or AddressSanitizer runs this process: they replace
/// the allocator, so figures about glibc's or jemalloc's heap do not apply.
public let runningUnderSanitizer: Bool = runningUnderThreadSanitizer || isLinked("__asan_init")

/// Whether ThreadSanitizer runs this process.
public let runningUnderThreadSanitizer: Bool = isLinked("__tsan_init")

public func isLinked(_ symbol: String) -> Bool {
    dlsym(UnsafeMutableRawPointer(bitPattern: 0), symbol) != nil
}

/// Appends one line to a file when destroyed, slowly (300 µs) enough that
/// values are still queued when a test process exits.
public final class LineWriter: Sendable {
    public let path: String
    public let line: Int

    public init(path: String, line: Int) {
        self.path = path
        self.line = line
    }

    deinit {
        usleep(300)
        appendLine("\(line)", toFileAt: path)
    }
}

/// The crate test's `DropOrderRecorder`: records its id when destroyed, before
/// the wrappers it holds.
public final class DropOrderRecorder: Sendable {
    public let id: Int
    public let value: [DeferDrop<DropOrderRecorder>]
    package let record: _Lock<[Int]>

    package init(id: Int, record: _Lock<[Int]>, value: [DeferDrop<DropOrderRecorder>] = []) {
        self.id = id
        self.value = value
        self.record = record
    }

    deinit {
        record.withLock { $0.append(id) }
    }

    /// The crate's tree: 0 holds 1 and 4, 1 holds 2 and 3, 4 holds 5 and 6,
    /// each wrapped for the global worker, or for `disposer`.
    package static func crateTree(record: _Lock<[Int]>, on disposer: (any Disposer)? = nil) -> DeferDrop<DropOrderRecorder> {
        func wrap(_ recorder: DropOrderRecorder) -> DeferDrop<DropOrderRecorder> {
            if let disposer { DeferDrop(recorder, on: disposer) } else { DeferDrop(recorder) }
        }
        func leaf(_ id: Int) -> DeferDrop<DropOrderRecorder> {
            wrap(DropOrderRecorder(id: id, record: record))
        }
        return wrap(DropOrderRecorder(id: 0, record: record, value: [
            wrap(DropOrderRecorder(id: 1, record: record, value: [leaf(2), leaf(3)])),
            wrap(DropOrderRecorder(id: 4, record: record, value: [leaf(5), leaf(6)])),
        ]))
    }
}

/// Keeps the calling thread busy for `duration`: a producer's own work between hand-offs.
public func busyWork(for duration: Duration) {
    let clock = ContinuousClock()
    let end = clock.now + duration
    while clock.now < end {}
}

/// 4 threads, each handing over 300 values whose destructor takes 1 ms, with
/// 1 ms of work of its own before each: 4 values per millisecond on 2 cores,
/// against 1 per millisecond for the worker.
public func outrunSlowly(_ disposer: some Disposer, log: DestructionLog) {
    onThreads(4) { producer in
        for sequence in 0..<300 {
            busyWork(for: .milliseconds(1))
            disposer.dispose(SlowProbe(log, producer: producer, sequence: sequence))
        }
    }
}

extension DestructionLog {
    /// What a time-bounded worker or pool promises after `outrunSlowly`,
    /// however much it fell behind: every value destroyed once, the deferred
    /// ones in each producer's order, exactly the inline ones on a producer,
    /// nothing pending. `nil` if kept; otherwise what broke.
    public func timeBoundProblem(after statistics: DropStatistics) -> String? {
        if let problem = checkExactlyOnceDeferredInOrder(producers: 4, perProducer: 300) { return problem }
        if statistics.destroyedInline != UInt64(onProducerCount) {
            return "\(statistics.destroyedInline) counted inline, \(onProducerCount) destroyed on a producer"
        }
        if statistics.deferred != 1_200 || statistics.pending != 0 { return "statistics: \(statistics)" }
        return nil
    }

    /// The same for one worker, which `outrunSlowly` outruns: it also fell
    /// behind, so producers destroyed some values themselves, and its backlog
    /// stayed far below the 1,200 an unbounded queue reaches (the worker
    /// destroys a quarter of what comes in; 20 ms of production is about 80
    /// values).
    public func outrunWorkerProblem(after statistics: DropStatistics) -> String? {
        if let problem = timeBoundProblem(after: statistics) { return problem }
        if statistics.destroyedInline == 0 { return "the worker never fell behind: nothing destroyed inline" }
        if statistics.peakPending > 400 { return "peak pending \(statistics.peakPending)" }
        return nil
    }
}
