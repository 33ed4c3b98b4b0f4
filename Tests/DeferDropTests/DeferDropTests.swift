import DeferDrop
import DeferDropTestSupport
import Testing

@Suite("DeferDrop wrapper")
struct DeferDropTests {
    @Test("100,000 dropped wrappers: no value destroyed on the dropping thread")
    func neverDestroyedOnTheDroppingThread() {
        let worker = DropWorker(name: "never-caller", capacity: .unbounded)
        let log = DestructionLog()
        for sequence in 0..<100_000 {
            let wrapper = DeferDrop(Probe(log, sequence: sequence), on: worker)
            _ = consume wrapper
        }
        worker.flush()
        #expect(log.count == 100_000)
        #expect(log.onCreatorCount == 0, "destructors ran on the dropping thread")
        #expect(log.threads.count == 1, "one worker thread destroyed everything")
        #expect(log.checkExactlyOnceInOrder(producers: 1, perProducer: 100_000) == nil)
    }

    @Test("100,000 wrappers on the global worker: each destroyed once, the deferred ones in order")
    func globalWorkerDefersInOrder() {
        let log = DestructionLog()
        for sequence in 0..<100_000 {
            let wrapper = DeferDrop(Probe(log, sequence: sequence))
            _ = consume wrapper
        }
        DropWorker.shared.flush()
        #expect(log.count == 100_000)
        // The deferred ones may have been destroyed by the worker or, while
        // it was behind, by another test's thread handing values to it.
        #expect(log.checkExactlyOnceDeferredInOrder(producers: 1, perProducer: 100_000) == nil)
    }

    @Test("wrappers around arrays and dictionaries: every element destroyed on the worker")
    func collectionsNeverOnTheDroppingThread() {
        let worker = DropWorker(name: "collections", capacity: .unbounded)
        let log = DestructionLog()
        for round in 0..<20 {
            let array = (0..<5_000).map { Probe(log, producer: 0, sequence: round * 5_000 + $0) }
            let wrapper = DeferDrop(consume array, on: worker)
            _ = consume wrapper
            let dictionary = Dictionary(uniqueKeysWithValues: (0..<1_000).map { ($0, Probe(log, producer: 1)) })
            let other = DeferDrop(consume dictionary, on: worker)
            _ = consume other
        }
        worker.flush()
        #expect(log.count == 120_000)
        #expect(log.onCreatorCount == 0, "elements were destroyed on the dropping thread")
    }

    @Test("a wrapper destroyed by unspecialised generic code still hands its value over")
    func destroyedThroughValueWitnesses() {
        // Swift 6.3 skips a generic noncopyable struct's deinit when generic
        // code destroys it through its value witnesses (swiftlang/swift#89118);
        // the wrapper must not depend on that deinit.
        struct Holder<Held: ~Copyable>: ~Copyable {
            var held: Held
        }
        let worker = DropWorker(name: "witnesses", capacity: .unbounded)
        let log = DestructionLog()
        for round in 0..<10 {
            let array = (0..<1_000).map { Probe(log, sequence: round * 1_000 + $0) }
            destroyGenerically(DeferDrop(consume array, on: worker))
            let more = (0..<1_000).map { Probe(log, producer: 1, sequence: round * 1_000 + $0) }
            destroyGenerically(Holder(held: DeferDrop(consume more, on: worker)))
        }
        worker.flush()
        #expect(worker.statistics.deferred == 20)
        #expect(log.count == 20_000)
        #expect(log.onCreatorCount == 0, "the wrapper's value was destroyed where the wrapper was")
    }

    @Test("take() returns the value and defers nothing")
    func takeDefersNothing() {
        let worker = DropWorker(name: "take", capacity: .unbounded)
        let log = DestructionLog()
        let wrapper = DeferDrop(Probe(log, sequence: 7), on: worker)
        // `consume`: the wrapper is copyable, and a debug build would keep the
        // local's own copy alive, sharing the storage, until the end of scope.
        var probe: Probe? = (consume wrapper).take()
        #expect(probe?.sequence == 7)
        #expect(log.count == 0, "take() must not destroy the value")
        probe = nil
        #expect(log.count == 1)
        #expect(log.onCreatorCount == 1, "the taken value is destroyed where the caller drops it")
        worker.flush()
        #expect(worker.statistics.deferred == 0)
    }

    @Test("value is read and modified in place, also through member lookup")
    func valueAccess() {
        let worker = DropWorker(name: "access", capacity: .unbounded)
        var numbers = DeferDrop([1, 2, 3], on: worker)
        numbers.value.append(4)
        #expect(numbers.value == [1, 2, 3, 4])
        #expect(numbers.count == 4)
        #expect(numbers.last == 4)

        struct Point { var x = 0, y = 0 }
        var point = DeferDrop(Point(), on: worker)
        point.x = 5
        point.value.y += 2
        #expect(point.x == 5 && point.y == 2)
        _ = consume numbers
        _ = consume point
        worker.flush()
        #expect(worker.statistics.destroyed == 2)
    }

    @Test("noncopyable values are deferred, modified in place and taken")
    func noncopyableValues() {
        let worker = DropWorker(name: "noncopyable", capacity: .unbounded)
        let log = DestructionLog()
        var wrapper = DeferDrop(UniqueProbe(log), on: worker)
        wrapper.value.payload.append(4)
        #expect(wrapper.value.payload == [1, 2, 3, 4])
        _ = consume wrapper
        worker.flush()
        #expect(log.all.map(\.sequence) == [4], "the modified value was destroyed")
        #expect(log.onCreatorCount == 0)

        let taken = DeferDrop(UniqueProbe(log, payload: [9]), on: worker).take()
        #expect(taken.payload == [9])
        _ = consume taken
        #expect(log.count == 2)
        #expect(log.onCreatorCount == 1)

        deferDrop(UniqueProbe(log, payload: []), on: worker)
        worker.flush()
        #expect(log.count == 3)
        #expect(log.onCreatorCount == 1)
    }

    @Test("a chain of 50 nested wrappers neither deadlocks nor recurses")
    func nestedChain() {
        final class Link: Sendable {
            let next: DeferDrop<Link>?
            let log: DestructionLog
            let depth: Int
            let creator = currentThread()
            init(next: consuming DeferDrop<Link>?, log: DestructionLog, depth: Int) {
                self.next = next
                self.log = log
                self.depth = depth
            }
            deinit {
                log.recordDestruction(sequence: depth, creator: creator)
            }
        }
        let worker = DropWorker(name: "nested", capacity: .unbounded)
        let log = DestructionLog()
        var chain: DeferDrop<Link>? = nil
        for depth in 0..<50 {
            chain = DeferDrop(Link(next: chain.take(), log: log, depth: depth), on: worker)
        }
        _ = consume chain
        worker.flush()
        #expect(log.count == 50, "flush() covers values that destructors hand over in turn")
        #expect(log.onCreatorCount == 0)
        #expect(log.threads.count == 1)
        let statistics = worker.statistics
        #expect(statistics.deferred == 50 && statistics.destroyed == 50)
        #expect(log.all.map(\.sequence) == Array((0..<50).reversed()), "outer links first, then inner")
    }

    @Test("non-Sendable values are accepted when the transfer is provable")
    func nonSendableTransfer() {
        final class Mutable { var contents: [String] = ["a", "b"] }
        let worker = DropWorker(name: "sending", capacity: .unbounded)
        let fresh = Mutable()
        fresh.contents.append("c")
        deferDrop(consume fresh, on: worker)
        let wrapper = DeferDrop(Mutable(), on: worker)
        _ = consume wrapper
        worker.flush()
        #expect(worker.statistics.destroyed == 2)
        #expect(worker.statistics.releasedElsewhere == 0)
    }
}

/// Destroys `value` the way unspecialised generic code does: through the
/// type's value witnesses, not a call the optimiser can see through.
@inline(never) @_optimize(none)
func destroyGenerically<Value: ~Copyable>(_ value: consuming Value) {}
