import DeferDrop
import DeferDropTestSupport
import Synchronization


// Fork while busy: in some rounds a thread forks the soak while its
// producers hand over and flush, and a thread keeps the Swift runtime's
// conformance cache busy with types it has never seen. Each child checks,
// from its one thread, that the round's disposer works there: what it hands
// over is destroyed once, in order, and by a strict disposer never on the
// child's thread; its flush returns. `Docs/Architecture.md`, "fork()", says
// what a child inherits and why nothing can be held across the fork.

/// Set in a fork child of the soak before it hands anything over. The
/// parent's values that the child destroys are its copies, whose ledger is
/// the parent's: they record nothing there (`ProducerLedger`).
let isForkChild = Atomic<Bool>(false)

/// How many fork children passed their checks, for the soak's summary.
let forkChildrenChecked = Atomic<Int>(0)

/// How many values each fork child hands over, half of them in arrays.
private let valuesPerForkChild = 2_000

/// How long a fork child's flush may take, and how long the parent waits for
/// the child, before either counts as a hang.
private let forkChildFlushLimit = Duration.seconds(30)
private let forkChildLimit = 60.0

/// Whether rounds may fork: not under ThreadSanitizer, whose runtime hangs
/// children of a multi-threaded process that start threads.
func forksAreSupported() -> Bool { !runningUnderThreadSanitizer }

/// Makes, before any fork, every type a fork child's worker and producer use
/// that only the soak's own code would make: a child that made one could
/// find its generic-metadata lock held by a parent thread at the fork.
func prepareForForks() {
    let log = ForkProbeLog()
    let scratch = Ledger(producers: 1, valuesPerProducer: 1, strict: false)
    let worker = DropWorker(name: "soak-fork-warm-up", capacity: .unbounded)
    worker.dispose(ForkProbe(sequence: 0, log: log))
    deferDrop([ForkProbe(sequence: 1, log: log)], on: worker)
    worker.dispose(Nested(ValueOrigin(producer: scratch.producers[0], ledger: scratch, sequence: 0)))
    worker.shutdown()
    _ = log.problem(expecting: 2, strict: false)
}

/// Forks the process and runs `childChecks` in the child; returns why the
/// child failed, from its own account (`succeedsInForkChild`), or `nil`.
/// The child holds `target` to its strict guarantee (`strict`) unless the
/// round's `shutdown()` had begun at the fork, as `ledger` says in the child.
func forkAndCheck(_ label: String, target: RoundTarget, strict: Bool, ledger: Ledger) -> String? {
    let story = temporaryPath("soak-fork")
    let succeeded = succeedsInForkChild(label, storyPath: story, seconds: forkChildLimit, drainingAtExit: false) {
        childChecks(
            label, target: target,
            strict: strict && !ledger.shutdownCalled.load(ordering: .sequentiallyConsistent))
    }
    if succeeded { forkChildrenChecked.add(1, ordering: .relaxed) }
    return forkStory(at: story, ifFailed: succeeded ? succeeded : nil)
}

/// In a fork child: hands values to `target` from this, the child's only
/// thread, flushes, and checks each value's destruction. Explains a failure
/// on standard error.
private func childChecks(_ label: String, target: RoundTarget, strict: Bool) -> Bool {
    isForkChild.store(true, ordering: .relaxed)
    let log = ForkProbeLog()
    for sequence in 0..<valuesPerForkChild {
        let probe = ForkProbe(sequence: sequence, log: log)
        if sequence.isMultiple(of: 2) {
            target.disposer.dispose(consume probe)
        } else {
            deferDrop([consume probe], on: target.disposer)
        }
    }
    guard target.flushWithTimeout(forkChildFlushLimit) else {
        tellStoryOfTimeout("\(label): flush(timeout:) in the child gave up after \(forkChildFlushLimit)")
        return false
    }
    if let problem = log.problem(expecting: valuesPerForkChild, strict: strict) {
        printError("\(label): in the child, \(problem)")
        return false
    }
    return true
}

/// A fork child's value: records its destruction in the child's log.
final class ForkProbe: Sendable {
    let sequence: Int
    let log: ForkProbeLog

    init(sequence: Int, log: ForkProbeLog) {
        self.sequence = sequence
        self.log = log
    }

    deinit { log.record(sequence) }
}

/// What a fork child's values saw of their destruction.
final class ForkProbeLog: Sendable {
    /// The thread that makes the log and hands the values over.
    private let producer = currentThread()
    private let state = _Lock(State())

    struct State {
        var destroyed = 0
        var onProducer = 0
        /// The last value destroyed off the producer, which must come after
        /// every earlier one destroyed there.
        var lastInOrder = -1
        var problem: String?
    }

    func record(_ sequence: Int) {
        let onProducer = currentThread() == producer
        state.withLock { state in
            state.destroyed += 1
            if onProducer {
                state.onProducer += 1
            } else if sequence <= state.lastInOrder {
                state.problem = state.problem ?? "value \(sequence) was destroyed after \(state.lastInOrder)"
            } else {
                state.lastInOrder = sequence
            }
        }
    }

    /// What is wrong once `count` values were handed over and flushed, or
    /// `nil`: each destroyed once, in order, and with `strict` none on the
    /// producer.
    func problem(expecting count: Int, strict: Bool) -> String? {
        state.withLock { state in
            if let problem = state.problem { return problem }
            if state.destroyed != count { return "\(state.destroyed) of \(count) values destroyed after flush()" }
            if strict, state.onProducer > 0 {
                return "\(state.onProducer) values destroyed on their producer, by a strict disposer"
            }
            return nil
        }
    }
}
