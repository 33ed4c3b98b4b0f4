import DeferDrop
import DeferDropTestSupport
import Synchronization

// `_Lock` (the package's pthread lock), not `Mutex`: ThreadSanitizer sees
// through pthread locks, and on Linux `Mutex` is a bare futex it cannot.

/// What one round of the soak has seen: every destruction, every hand-off
/// that returned, and the first broken invariant.
final class Ledger: Sendable {
    let producers: [ProducerLedger]
    /// Whether the destruction of one producer's value on its own thread
    /// breaks the contract (a strict worker, running), or is allowed (a
    /// time bound, or a full queue that destroys inline).
    let strict: Bool
    /// Set just before the round calls `shutdown()`: a hand-off that returns
    /// after that may have destroyed its value inline.
    let shutdownCalled = Atomic<Bool>(false)
    private let firstProblem = _Lock<String?>(nil)

    init(producers: Int, valuesPerProducer: Int, strict: Bool) {
        self.producers = (0..<producers).map { ProducerLedger(index: $0, values: valuesPerProducer) }
        self.strict = strict
    }

    /// Records a broken invariant; only the first is kept.
    func fail(_ message: String) {
        firstProblem.withLock { if $0 == nil { $0 = message } }
    }

    var problem: String? { firstProblem.withLock { $0 } }

    /// How many hand-offs of each producer have returned, now.
    func handedCounts() -> [Int] {
        producers.map { $0.handed.load(ordering: .acquiring) }
    }

    /// Checks that every value counted in `handed` (by producer) is destroyed,
    /// and, with `nested`, every value its destructor handed over too.
    func checkDestroyed(upTo handed: [Int], nested: Bool, after what: String) {
        for (producer, count) in zip(producers, handed) {
            if let missing = producer.firstNotDestroyed(below: count, nested: nested) {
                fail("\(what) returned before value \(missing) was destroyed, though it was handed over before")
                return
            }
        }
    }

    /// Whether the calling thread is one of this round's producers, still
    /// running. (Asked at the destruction: a thread's identity is reused by
    /// threads started after it ends, such as a pool's workers.)
    func isOnProducerThread() -> Bool {
        let thread = currentThread()
        return producers.contains { $0.thread.load(ordering: .acquiring) == thread }
    }

    /// Destructions, nested ones included, that ran on a producer thread of this round.
    func destroyedOnProducerThreads() -> Int {
        producers.reduce(0) { $0 + $1.destroyedOnProducers }
    }
}

/// One producer's part of the ledger.
final class ProducerLedger: Sendable {
    let index: Int
    /// Hand-offs of this producer that have returned; published after each.
    let handed = Atomic<Int>(0)
    /// The producer's thread while it runs; 0 before and after.
    let thread = Atomic<UInt>(0)
    private let state: _Lock<State>

    struct State {
        var destroyed: [UInt8]
        var destroyedOnThread: [UInt]
        var nestedDestroyed: [UInt8]
        /// Destructions, nested ones included, that ran on a producer thread.
        var onProducers = 0
        var hasNested: [Bool]
        var completions: [UInt8]
        var expectsCompletion: [Bool]
        /// The last value destroyed in order: see `recordDestruction`.
        var lastInOrder = -1
    }

    init(index: Int, values: Int) {
        self.index = index
        state = _Lock(
            State(
                destroyed: Array(repeating: 0, count: values), destroyedOnThread: Array(repeating: 0, count: values),
                nestedDestroyed: Array(repeating: 0, count: values),
                hasNested: Array(repeating: false, count: values), completions: Array(repeating: 0, count: values),
                expectsCompletion: Array(repeating: false, count: values)))
    }

    /// Called by the producer before it hands value `sequence` over.
    func willHandOver(_ sequence: Int, nested: Bool, completion: Bool) {
        state.withLock {
            $0.hasNested[sequence] = nested
            $0.expectsCompletion[sequence] = completion
        }
    }

    /// Called by value `sequence`'s destructor. In order means: after every
    /// earlier value of this producer that was checked in order. With a
    /// strict worker every value is; otherwise those destroyed off the
    /// producer's thread (a time-bounded worker may destroy one inline,
    /// before earlier ones still queued).
    func recordDestruction(_ sequence: Int, strict: Bool, ledger: Ledger) {
        let thread = currentThread()
        let onProducer = thread == self.thread.load(ordering: .relaxed)
        let onAnyProducer = ledger.isOnProducerThread()
        record(in: ledger) { state in
            state.destroyed[sequence] += 1
            state.destroyedOnThread[sequence] = thread
            if onAnyProducer { state.onProducers += 1 }
            if state.destroyed[sequence] > 1 {
                return "value \(index)/\(sequence) was destroyed \(state.destroyed[sequence]) times"
            }
            if strict || !onProducer {
                if sequence <= state.lastInOrder {
                    return """
                        value \(index)/\(sequence) was destroyed after value \(index)/\(state.lastInOrder): \
                        out of its producer's order
                        """
                }
                state.lastInOrder = sequence
            }
            return nil
        }
    }

    func recordNestedDestruction(_ sequence: Int, ledger: Ledger) {
        let onAnyProducer = ledger.isOnProducerThread()
        record(in: ledger) { state in
            state.nestedDestroyed[sequence] += 1
            if onAnyProducer { state.onProducers += 1 }
            guard state.nestedDestroyed[sequence] > 1 else { return nil }
            return "the value nested in \(index)/\(sequence) was destroyed \(state.nestedDestroyed[sequence]) times"
        }
    }

    func recordCompletion(_ sequence: Int, ledger: Ledger) {
        record(in: ledger) { state in
            state.completions[sequence] += 1
            if state.completions[sequence] > 1 { return "the completion of \(index)/\(sequence) ran twice" }
            if state.destroyed[sequence] != 1 {
                return "the completion of \(index)/\(sequence) ran before its value was destroyed"
            }
            return nil
        }
    }

    /// Updates the state under its lock with `body`, and fails `ledger` with
    /// the problem `body` returns, if any. Records nothing in a fork child
    /// (`isForkChild`): the values it destroys there are its copies of the
    /// parent's, and the lock may have been held by a parent thread at the fork.
    private func record(in ledger: Ledger, _ body: (inout State) -> String?) {
        guard !isForkChild.load(ordering: .relaxed) else { return }
        if let problem = state.withLock(body) { ledger.fail(problem) }
    }

    /// Whether value `sequence` was destroyed on this producer's thread.
    func wasDestroyedOnProducer(_ sequence: Int) -> Bool {
        let producer = thread.load(ordering: .relaxed)
        return state.withLock { $0.destroyed[sequence] > 0 && $0.destroyedOnThread[sequence] == producer }
    }

    /// The first value below `count` not destroyed exactly once (or whose
    /// nested value is not, with `nested`), as "producer/sequence".
    func firstNotDestroyed(below count: Int, nested: Bool) -> String? {
        state.withLock { state in
            for sequence in 0..<count {
                if state.destroyed[sequence] != 1 { return "\(index)/\(sequence)" }
                if nested, state.hasNested[sequence], state.nestedDestroyed[sequence] != 1 {
                    return "nested in \(index)/\(sequence)"
                }
            }
            return nil
        }
    }

    /// The first value whose completion did not run exactly once.
    func firstMissingCompletion() -> Int? {
        state.withLock { state in
            state.expectsCompletion.indices.first { state.expectsCompletion[$0] && state.completions[$0] != 1 }
        }
    }

    /// Destructions, nested ones included, that ran on a producer thread.
    var destroyedOnProducers: Int { state.withLock { $0.onProducers } }

    /// Values handed over in all, nested ones included.
    var handedOverIncludingNested: Int {
        let handed = handed.load(ordering: .acquiring)
        return state.withLock { state in handed + state.hasNested.prefix(handed).count { $0 } }
    }
}
