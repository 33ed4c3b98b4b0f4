import DeferDrop
import DeferDropTestSupport
import Testing

@Suite("DropWorker")
struct DropWorkerTests {
    @Test("8 producers × 25,000 values: each destroyed once, off its producer, in its producer's order")
    func orderPerProducerUnderLoad() {
        let worker = DropWorker(name: "fifo", capacity: .unbounded)
        let log = DestructionLog()
        handOverSequenced(producers: 8, perProducer: 25_000, to: worker, log: log)
        worker.flush()
        #expect(log.count == 200_000)
        #expect(log.onCreatorCount == 0)
        #expect(log.checkExactlyOnceInOrder(producers: 8, perProducer: 25_000) == nil)
        let statistics = worker.statistics
        #expect(statistics.deferred == 200_000)
        #expect(statistics.destroyed == 200_000)
        #expect(statistics.pending == 0)
        #expect(statistics.peakPending >= 1 && statistics.peakPending <= 200_000)
    }

    /// Order across threads: every thread hands over from its own lane, which
    /// keeps only that thread's order; a hand-off through
    /// `orderedAcrossThreads` collects every lane before it queues its value
    /// (see `_DropQueue+Lanes.swift`). Eight threads take turns under one
    /// lock, so each of their hand-offs happens before the next, whichever
    /// thread makes it; every other one goes through the handle, so that each
    /// plain hand-off is followed by an ordered one. Four more hand over
    /// values of their own meanwhile, so the worker collects from many lanes
    /// at once.
    @Test(
        "hand-offs ordered across 8 threads are destroyed in that order, beside 4 free producers",
        arguments: [true, false])
    func orderAcrossThreads(strict: Bool) {
        let worker = DropWorker(name: "across", capacity: strict ? .unbounded : .server)
        let acrossThreads = worker.orderedAcrossThreads
        let ordered = DestructionLog()
        let free = DestructionLog()
        let next = _Lock(0)
        onThreads(12) { thread in
            if thread < 8 {
                for _ in 0..<10_000 {
                    next.withLock { sequence in
                        // Moved, not copied: a copy's release here could be
                        // the last one, after the worker's.
                        let probe = Probe(ordered, producer: 0, sequence: sequence)
                        if sequence % 2 == 0 {
                            worker.dispose(consume probe)
                        } else {
                            acrossThreads.dispose(consume probe)
                        }
                        sequence += 1
                    }
                }
            } else {
                for sequence in 0..<20_000 {
                    worker.dispose(Probe(free, producer: thread - 8, sequence: sequence))
                }
            }
        }
        worker.flush()
        if strict {
            #expect(ordered.checkExactlyOnceInOrder(producers: 1, perProducer: 80_000) == nil)
            #expect(free.checkExactlyOnceInOrder(producers: 4, perProducer: 20_000) == nil)
            #expect(ordered.onCreatorCount == 0 && free.onCreatorCount == 0)
        } else {
            // Bounded in time: what a producer freed inline may come early,
            // an ordered hand-off freed inline orders nothing, so two plain
            // ones from different threads may then swap; a deferred ordered
            // one comes after everything deferred before it.
            #expect(ordered.checkExactlyOnceOrderedAfterEarlier(expected: 80_000) { $0 % 2 == 1 } == nil)
            #expect(free.checkExactlyOnceDeferredInOrder(producers: 4, perProducer: 20_000) == nil)
        }
        #expect(worker.statistics.destroyed == 160_000 && worker.statistics.pending == 0)
    }

    @Test("an orderedAcrossThreads handle is its worker: one queue, and it keeps the worker alive")
    func orderedHandleIsTheWorker() {
        let log = DestructionLog()
        var worker: DropWorker? = DropWorker(name: "handle", capacity: .unbounded)
        let handle = worker!.orderedAcrossThreads
        #expect(handle.name == "handle")
        #expect(handle.orderedAcrossThreads === handle)
        #expect(worker!.orderedAcrossThreads !== worker)
        worker!.dispose(Probe(log, producer: 0, sequence: 0))
        // A second handle going away leaves the worker running.
        _ = worker!.orderedAcrossThreads
        worker = nil
        for sequence in 1..<1_000 {
            handle.dispose(Probe(log, producer: 0, sequence: sequence))
        }
        handle.flush()
        #expect(log.checkExactlyOnceInOrder(producers: 1, perProducer: 1_000) == nil)
        #expect(log.onCreatorCount == 0, "the worker stopped while a handle to it was alive")
        #expect(handle.statistics.deferred == 1_000 && handle.statistics.destroyedInline == 0)
    }

    @Test("flush() is a barrier for every thread's earlier values")
    func flushIsABarrier() {
        let worker = DropWorker(name: "barrier", capacity: .unbounded)
        let log = DestructionLog()
        for round in 1...20 {
            handOverSequenced(producers: 4, perProducer: 1_000, to: worker, log: log)
            worker.flush()
            #expect(log.count == round * 4_000, "round \(round): flush returned before the values were destroyed")
            let statistics = worker.statistics
            #expect(statistics.deferred == statistics.destroyed)
        }
    }

    @Test("flush() async waits without blocking, from many tasks")
    func asyncFlush() async {
        let worker = DropWorker(name: "async-flush", capacity: .unbounded)
        let log = DestructionLog()
        await withTaskGroup(of: Void.self) { group in
            for producer in 0..<16 {
                group.addTask {
                    for sequence in 0..<1_000 {
                        worker.dispose(Probe(log, producer: producer, sequence: sequence))
                    }
                    await worker.flush()
                    // Everything this task handed over is destroyed by now.
                    let mine = log.all.filter { $0.producer == producer }.count
                    #expect(mine == 1_000)
                }
            }
        }
        await worker.flush()
        #expect(log.count == 16_000)
        #expect(log.checkExactlyOnceInOrder(producers: 16, perProducer: 1_000) == nil)
        #expect(worker.statistics.pending == 0)
    }

    @Test("flush() with nothing pending returns at once, before and after the thread starts")
    func flushWhenIdle() {
        let worker = DropWorker(name: "idle", capacity: .unbounded)
        worker.flush()
        #expect(worker.statistics.counts == DropStatistics())
        deferDrop([1, 2, 3], on: worker)
        worker.flush()
        worker.flush()
        #expect(worker.statistics.counts == DropStatistics(deferred: 1, destroyed: 1, peakPending: 1))
    }

    @Test("flush() async with nothing pending returns at once")
    func asyncFlushWhenIdle() async {
        let worker = DropWorker(name: "idle-async", capacity: .unbounded)
        await worker.flush()
        deferDrop([1, 2, 3], on: worker)
        await worker.flush()
        await worker.flush()
        #expect(worker.statistics.counts == DropStatistics(deferred: 1, destroyed: 1, peakPending: 1))
    }

    @Test("statistics are exact after flush()")
    func statisticsExactAfterFlush() {
        let worker = DropWorker(name: "stats", capacity: .unbounded)
        for value in 0..<10_000 {
            worker.dispose([value])
        }
        worker.flush()
        let statistics = worker.statistics
        #expect(statistics.deferred == 10_000)
        #expect(statistics.destroyed == 10_000)
        #expect(statistics.pending == 0)
        #expect((1...10_000).contains(statistics.peakPending))
        #if Jemalloc
        // 10,000 one-element arrays (32-byte class) in 32-byte boxes, at least.
        #expect((statistics.reclaimedBytes ?? 0) >= 10_000 * 64)
        #else
        #expect(statistics.reclaimedBytes == nil, "no allocator statistics without the Jemalloc trait")
        #endif
    }

    @Test("worker threads carry the worker's name, cut to 15 bytes on a character boundary")
    func threadNames() {
        #expect(nameOfThread(destroyingOn: DropWorker.shared) == "defer-drop")
        #expect(DropWorker.shared.name == "defer-drop")
        #expect(nameOfThread(destroyingOn: DropWorker(name: "images", capacity: .unbounded)) == "images")

        let long = DropWorker(name: "a-rather-long-worker-name", capacity: .unbounded)
        #expect(long.name == "a-rather-long-worker-name", "the Swift name is kept whole")
        #expect(nameOfThread(destroyingOn: long) == "a-rather-long-w")

        let accented = DropWorker(name: "ééééééééé", capacity: .unbounded)  // 2 bytes each
        #expect(nameOfThread(destroyingOn: accented) == "ééééééé")
    }

    @Test("shutdown() destroys what is pending; later values are destroyed inline, never lost")
    func shutdownLosesNothing() {
        let worker = DropWorker(name: "shutdown", capacity: .unbounded)
        let log = DestructionLog()
        for sequence in 0..<10_000 {
            worker.dispose(Probe(log, sequence: sequence))
        }
        worker.shutdown()
        #expect(log.count == 10_000, "shutdown() returned before draining")
        #expect(log.onCreatorCount == 0)

        worker.dispose(Probe(log, sequence: 10_000))
        #expect(log.count == 10_001, "a value handed over after shutdown is destroyed at once")
        #expect(log.onCreatorCount == 1, "…by the caller")
        let wrapper = DeferDrop(Probe(log, sequence: 10_001), on: worker)
        _ = consume wrapper
        #expect(log.count == 10_002)

        worker.shutdown()  // again: returns at once
        worker.flush()
        let statistics = worker.statistics
        #expect(statistics.deferred == 10_002)
        #expect(statistics.destroyed == 10_002)
        #expect(log.checkExactlyOnceInOrder(producers: 1, perProducer: 10_002) == nil)
    }

    @Test("shutdown() of a worker that never started")
    func shutdownIdle() {
        let worker = DropWorker(name: "never-started", capacity: .unbounded)
        worker.shutdown()
        let log = DestructionLog()
        worker.dispose(Probe(log))
        #expect(log.count == 1 && log.onCreatorCount == 1)
        #expect(worker.statistics.deferred == 1 && worker.statistics.destroyed == 1)
    }

    @Test("shutdown() racing 4 producers and a second shutdown(): each value destroyed once, in order")
    func shutdownRacingProducers() {
        for _ in 0..<10 {
            let worker = DropWorker(name: "race", capacity: .unbounded)
            let log = DestructionLog()
            onThreads(6) { thread in
                switch thread {
                case 0..<4:
                    for sequence in 0..<5_000 {
                        worker.dispose(Probe(log, producer: thread, sequence: sequence))
                    }
                default:
                    worker.shutdown()
                }
            }
            #expect(log.count == 20_000)
            #expect(log.checkExactlyOnceInOrder(producers: 4, perProducer: 5_000) == nil)
            let statistics = worker.statistics
            #expect(statistics.deferred == 20_000 && statistics.destroyed == 20_000)
        }
    }

    @Test("a destructor on the worker may hand values to it, to another worker, or shut it down")
    func destructorsHandingOver() {
        final class Forwarder {
            let to: DropWorker
            let log: DestructionLog
            let depth: Int
            init(to: DropWorker, log: DestructionLog, depth: Int) {
                self.to = to
                self.log = log
                self.depth = depth
            }
            deinit {
                if depth > 0 {
                    to.dispose(Forwarder(to: to, log: log, depth: depth - 1))
                    to.dispose(Probe(log, sequence: depth))
                }
            }
        }
        let first = DropWorker(name: "first", capacity: .unbounded)
        let second = DropWorker(name: "second", capacity: .unbounded)
        let log = DestructionLog()
        first.dispose(Forwarder(to: first, log: log, depth: 100))
        first.dispose(Forwarder(to: second, log: log, depth: 100))
        first.flush()
        second.flush()
        #expect(log.count == 200)

        final class Stopper {
            let worker: DropWorker
            init(_ worker: DropWorker) { self.worker = worker }
            deinit { worker.shutdown() }
        }
        let stopping = DropWorker(name: "self-stop", capacity: .unbounded)
        stopping.dispose(Stopper(stopping))
        stopping.dispose(Probe(log, sequence: -1))
        stopping.shutdown()
        #expect(log.count == 201)
    }

    @Test("dropping the last reference to a worker still destroys everything it holds")
    func deinitDrains() {
        let log = DestructionLog()
        let done = Signal()
        final class Last {
            let done: Signal
            init(_ done: Signal) { self.done = done }
            deinit { done.raise() }
        }
        do {
            let worker = DropWorker(name: "dropped", capacity: .unbounded)
            for sequence in 0..<10_000 {
                worker.dispose(Probe(log, sequence: sequence))
            }
            worker.dispose(Last(done))
        }
        #expect(done.wait(seconds: 30), "the dropped worker did not finish its queue within 30 s")
        #expect(log.count == 10_000)
        #expect(log.onCreatorCount == 0)
    }

    @Test("class instances through generic code, unboxed, and existentials: each destroyed once, on the worker; a kept one is counted, not freed early")
    func classInstancesThroughGenericCode() {
        let worker = DropWorker(name: "generic", capacity: .unbounded)
        let log = DestructionLog()
        @Sendable func handOver<Value>(_ value: consuming sending Value) {
            worker.dispose(value)
        }
        onThreads(4) { producer in
            for sequence in 0..<10_000 {
                // As a class (not boxed), and as existentials, `AnyObject`
                // and a class-bound protocol's (boxed).
                switch sequence % 3 {
                case 0: handOver(Probe(log, producer: producer, sequence: sequence))
                case 1: handOver(Probe(log, producer: producer, sequence: sequence) as AnyObject)
                default: handOver(Probe(log, producer: producer, sequence: sequence) as any ClassBoundProbe)
                }
            }
        }
        worker.flush()
        #expect(log.count == 40_000)
        #expect(log.onCreatorCount == 0)
        #expect(log.checkExactlyOnceInOrder(producers: 4, perProducer: 10_000) == nil)
        // A copy kept by the caller: the worker's release is not the last.
        let kept = Probe(log, producer: 9, sequence: 0)
        handOver(kept)
        worker.flush()
        #expect(worker.statistics.releasedElsewhere == 1)
        #expect(log.count == 40_000, "the worker destroyed a value its caller still holds")
        #expect(kept.sequence == 0)
    }
}

/// Types of every metadata kind a hand-off can meet, for `_TypeKind.isClass`.
private final class PlainClass {}
private class BaseClass {}
private final class GenericClass<Element> { var element: Element? }
private struct PlainStruct { var value: Int }
private enum PlainEnum { case one, two }
private protocol ClassBound: AnyObject {}
private protocol Unbound {}
private struct Unique: ~Copyable { var value: Int }
private actor PlainActor {}

@Suite("Type kinds")
struct TypeKindTests {
    @Test("isClass answers as the runtime's `is AnyObject.Type` does, for every kind of type")
    func isClassAgreesWithTheRuntime() {
        let types: [Any.Type] = [
            PlainClass.self, BaseClass.self, GenericClass<Int>.self, GenericClass<[String]>.self,
            PlainActor.self, Probe.self, PlainStruct.self, PlainEnum.self, Int.self, String.self,
            [Int].self, [Int: [Int]].self, Set<Int>.self, Int?.self, PlainClass?.self, (Int, Int).self,
            (() -> Void).self, AnyObject.self, (any ClassBound).self, (any Unbound).self, Any.self,
            Int.Type.self, PlainClass.Type.self, (any Unbound.Type).self, Void.self,
        ]
        for type in types {
            #expect(_TypeKind.isClass(type) == (type is AnyObject.Type), "\(type)")
        }
        #expect(_TypeKind.isClass(unsafeBitCast(Unique.self, to: Any.Type.self)) == false)
        #expect(types.count { _TypeKind.isClass($0) } == 6)
    }
}

@Suite("Preconditions")
struct PreconditionTests {
    @Test("an empty worker name is refused with a message that says so")
    func emptyName() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = DropWorker(name: "")
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("the name is empty"))
    }

    @Test("a name with a NUL character is refused")
    func nulInName() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = DropWorker(name: "bad\u{0}name", capacity: .unbounded)
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("NUL"))
    }

    @Test("flush() from a destructor on the same worker is caught, not a deadlock")
    func flushFromOwnWorker() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            final class Flusher {
                let worker: DropWorker
                init(_ worker: DropWorker) { self.worker = worker }
                deinit { worker.flush() }
            }
            let worker = DropWorker(name: "self-flush", capacity: .unbounded)
            worker.dispose(Flusher(worker))
            await worker.flush()
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("would wait for itself forever"))
    }

    @Test("a worker's diagnosis names its phase, what is pending and whether its thread exists")
    func diagnosisDescribesTheWorker() {
        let name = "diagnosed-\(UInt32.random(in: 0...UInt32.max))"
        func diagnosis() -> String? {
            DropWorker._diagnosesOfEveryWorker.first { $0.hasPrefix("DropWorker \"\(name)\":") }
        }
        let worker = DropWorker(name: name, capacity: .unbounded)
        let before = diagnosis()
        #expect(before?.contains(": not started, pending 0") == true, "\(before ?? "no diagnosis")")
        #expect(before?.contains("worker thread never started") == true, "\(before ?? "no diagnosis")")
        deferDrop([1, 2, 3], on: worker)
        worker.flush()
        let running = diagnosis()
        #expect(running?.contains(": running (0 barriers, 0 producers waiting for room), pending 0") == true, "\(running ?? "no diagnosis")")
        if _PlatformLayer.current == .linux {
            #expect(running?.contains("(exists)") == true, "\(running ?? "no diagnosis")")
        } else {
            // Whether a thread still runs is known on Linux only: the id alone.
            #expect(running?.contains("worker thread never started") == false, "\(running ?? "no diagnosis")")
            #expect(running?.contains("worker thread ") == true, "\(running ?? "no diagnosis")")
        }
        worker.shutdown()
        let stopped = diagnosis()
        #expect(stopped?.contains(": stopped, pending 0") == true, "\(stopped ?? "no diagnosis")")
        withExtendedLifetime(worker) {}
    }
}

protocol ClassBoundProbe: AnyObject {}
extension Probe: ClassBoundProbe {}
