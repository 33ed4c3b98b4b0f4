import DeferDrop
import Dispatch
import Synchronization
import _DeferDropShims

#if canImport(Glibc)
import Glibc
#endif

/// The calling thread's identity.
func currentThread() -> UInt { UInt(bitPattern: Int(bitPattern: pthread_self())) }

/// The calling thread's OS name.
func currentThreadName() -> String {
    var buffer = [CChar](repeating: 0, count: 32)
    let result = _deferdrop_get_current_thread_name(&buffer, UInt(buffer.count))
    precondition(result == 0, "pthread_getname_np failed: \(result)")
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Where and in what order probes were destroyed.
final class DestructionLog: Sendable {
    struct Entry: Sendable, Hashable {
        var producer: Int
        var sequence: Int
        var thread: UInt
        var onCreator: Bool
    }

    private let entries = Mutex<[Entry]>([])

    func record(_ entry: Entry) {
        entries.withLock { $0.append(entry) }
    }

    var all: [Entry] { entries.withLock { $0 } }
    var count: Int { entries.withLock { $0.count } }

    /// Destructions that ran on the thread that created the probe.
    var onCreatorCount: Int { entries.withLock { $0.count { $0.onCreator } } }

    /// The distinct threads that destroyed probes.
    var threads: Set<UInt> { entries.withLock { Set($0.map(\.thread)) } }

    /// Whether every (producer, sequence) in the log appears exactly once and
    /// `expected` per producer, each producer's in increasing order.
    func checkExactlyOnceInOrder(producers: Int, perProducer expected: Int) -> String? {
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
final class Probe {
    let log: DestructionLog
    let producer: Int
    let sequence: Int
    let creator = currentThread()

    init(_ log: DestructionLog, producer: Int = 0, sequence: Int = 0) {
        self.log = log
        self.producer = producer
        self.sequence = sequence
    }

    deinit {
        let thread = currentThread()
        log.record(.init(producer: producer, sequence: sequence, thread: thread, onCreator: thread == creator))
    }
}

/// A noncopyable value whose deinit records the thread it runs on.
struct UniqueProbe: ~Copyable {
    let log: DestructionLog
    var payload: [Int]
    let creator = currentThread()

    init(_ log: DestructionLog, payload: [Int] = [1, 2, 3]) {
        self.log = log
        self.payload = payload
    }

    deinit {
        let thread = currentThread()
        log.record(.init(producer: 0, sequence: payload.count, thread: thread, onCreator: thread == creator))
    }
}

/// Runs `body(index)` on `count` new OS threads at once and waits for all of them.
func onThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
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
final class Signal: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)

    func raise() { semaphore.signal() }

    /// Waits up to `seconds` for `raise()`; returns whether it came.
    func wait(seconds: Double) -> Bool {
        semaphore.wait(timeout: .now() + seconds) == .success
    }
}
