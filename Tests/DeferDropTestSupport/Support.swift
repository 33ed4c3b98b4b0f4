public import DeferDrop
import Dispatch
import _DeferDropShims

#if canImport(Glibc)
import Glibc
#endif

/// The calling thread's identity.
public func currentThread() -> UInt { UInt(bitPattern: Int(bitPattern: pthread_self())) }

/// The calling thread's OS name.
public func currentThreadName() -> String {
    var buffer = [CChar](repeating: 0, count: 32)
    let result = _deferdrop_get_current_thread_name(&buffer, UInt(buffer.count))
    precondition(result == 0, "pthread_getname_np failed: \(result)")
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

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

    public init() {}

    public func record(_ entry: Entry) {
        entries.withLock { $0.append(entry) }
    }

    /// Records a destruction happening now, on the calling thread, of
    /// something made on `creator`.
    public func recordDestruction(producer: Int = 0, sequence: Int, creator: UInt) {
        let thread = currentThread()
        record(Entry(producer: producer, sequence: sequence, thread: thread, onCreator: thread == creator))
    }

    public var all: [Entry] { entries.withLock { $0 } }
    public var count: Int { entries.withLock { $0.count } }

    /// Destructions that ran on the thread that created the probe.
    public var onCreatorCount: Int { entries.withLock { $0.count { $0.onCreator } } }

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
    final class Context: Sendable {
        let index: Int
        let body: @Sendable (Int) -> Void
        init(index: Int, body: @escaping @Sendable (Int) -> Void) {
            self.index = index
            self.body = body
        }
    }
    var threads: [pthread_t] = []
    for index in 0..<count {
        let context = Unmanaged.passRetained(Context(index: index, body: body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { raw in
            let context = Unmanaged<Context>.fromOpaque(raw!).takeRetainedValue()
            context.body(context.index)
            return nil
        }, context)
        precondition(result == 0, "pthread_create failed: \(result)")
        threads.append(thread)
    }
    for thread in threads {
        pthread_join(thread, nil)
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
public func handOverSequenced(producers: Int, perProducer: Int, to disposer: some Disposer, log: DestructionLog) {
    onThreads(producers) { producer in
        for sequence in 0..<perProducer {
            disposer.dispose(Probe(log, producer: producer, sequence: sequence))
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

/// The OS name of the thread on which `disposer` destroys values.
public func nameOfThread(destroyingOn disposer: some Disposer) -> String {
    let seen = _Lock<String?>(nil)
    disposer.dispose(Reporter { name in seen.withLock { $0 = name } })
    disposer.flush()
    return seen.withLock { $0 } ?? "<none>"
}

/// Reports the OS name of the thread that destroys it.
private final class Reporter {
    let report: @Sendable (String) -> Void
    init(_ report: @escaping @Sendable (String) -> Void) { self.report = report }
    deinit { report(currentThreadName()) }
}

extension DropStatistics {
    /// The counters alone, for comparing with expected counts in builds that
    /// measure bytes and builds that do not.
    public var counts: DropStatistics {
        DropStatistics(deferred: deferred, destroyed: destroyed, peakPending: peakPending)
    }
}
