import DeferDrop
import DeferDropTestSupport
import Testing

/// A disposer of the user's own: counts what it is given, then lets a worker
/// destroy it. Implements only the generic requirement.
final class CountingDisposer: Disposer {
    let worker = DropWorker(name: "counting", capacity: .unbounded)
    let count = _Lock(0)

    func dispose<Value: ~Copyable>(_ value: consuming sending Value) {
        count.withLock { $0 += 1 }
        worker.dispose(value)
    }

    func flush() { worker.flush() }
    func flush() async { await worker.flush() }
}

@Suite("Disposer and deferDrop")
struct DisposerTests {
    @Test("deferDrop of 100,000 class instances to the shared worker: each once, the deferred ones in order")
    func deferDropObjects() {
        let log = DestructionLog()
        for sequence in 0..<100_000 {
            deferDrop(Probe(log, sequence: sequence))
        }
        DropWorker.shared.flush()
        #expect(log.count == 100_000)
        // The deferred ones may have been destroyed by the worker or, while
        // it was behind, by another test's thread handing values to it.
        #expect(log.checkExactlyOnceDeferredInOrder(producers: 1, perProducer: 100_000) == nil)
    }

    @Test("deferDrop of 100,000 class instances to a strict worker: none destroyed on the caller, in order")
    func deferDropObjectsStrict() {
        let worker = DropWorker(name: "strict-objects", capacity: .unbounded)
        let log = DestructionLog()
        for sequence in 0..<100_000 {
            deferDrop(Probe(log, sequence: sequence), on: worker)
        }
        worker.flush()
        #expect(log.count == 100_000)
        #expect(log.onCreatorCount == 0)
        #expect(log.checkExactlyOnceInOrder(producers: 1, perProducer: 100_000) == nil)
    }

    @Test("deferDrop of values: arrays, dictionaries, noncopyable")
    func deferDropValues() {
        let worker = DropWorker(name: "values", capacity: .unbounded)
        let log = DestructionLog()
        deferDrop([Probe(log, sequence: 0)], on: worker)
        deferDrop(["k": Probe(log, sequence: 1)], on: worker)
        deferDrop(UniqueProbe(log, payload: [0, 0]), on: worker)
        worker.flush()
        #expect(log.count == 3)
        #expect(log.onCreatorCount == 0)
        #expect(log.all.map(\.sequence) == [0, 1, 2], "destroyed in hand-over order")
    }

    @Test("a custom Disposer receives class instances and values through its generic method")
    func customDisposer() {
        let disposer = CountingDisposer()
        let log = DestructionLog()
        deferDrop(Probe(log, sequence: 0), on: disposer)  // the AnyObject overload's default
        deferDrop([Probe(log, sequence: 1)], on: disposer)
        let wrapper = DeferDrop(Probe(log, sequence: 2), on: disposer)
        _ = consume wrapper
        disposer.dispose(Probe(log, sequence: 3))
        disposer.flush()
        #expect(disposer.count.withLock { $0 } == 4)
        #expect(log.count == 4)
        #expect(log.onCreatorCount == 0)
    }
}
