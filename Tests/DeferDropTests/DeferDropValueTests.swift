import DeferDrop
import DeferDropTestSupport
import Foundation
import Testing

/// `DeferDrop` as a Swift value: copies, collections, copy on write,
/// conformances, `Codable`.
@Suite("DeferDrop as a value")
struct DeferDropValueTests {
    @Test("100,000 wrappers in an Array, dropped at once: every value on the worker, in order")
    func wrappersInAnArray() {
        let worker = DropWorker(name: "in-array", capacity: .unbounded)
        let log = DestructionLog()
        let wrappers = (0..<100_000).map { DeferDrop(Probe(log, sequence: $0), on: worker) }
        #expect(wrappers.count == 100_000)
        _ = consume wrappers
        worker.flush()
        #expect(log.count == 100_000)
        #expect(log.onCreatorCount == 0, "values destroyed on the thread that dropped the array")
        #expect(log.checkExactlyOnceInOrder(producers: 1, perProducer: 100_000) == nil)
        #expect(worker.statistics.deferred == 100_000)
        #expect(worker.statistics.releasedElsewhere == 0)
    }

    @Test("assigning value hands the old value to the worker, 10,000 times, in order; a copy keeps what it shared")
    func assignmentDefersTheOldValue() {
        let worker = DropWorker(name: "assign")
        let log = DestructionLog()
        var wrapper = DeferDrop(SendableProbe(log, sequence: 0), on: worker)
        for sequence in 1..<10_000 {
            wrapper.value = SendableProbe(log, sequence: sequence)
        }
        let copy = wrapper
        wrapper.value = SendableProbe(log, sequence: 10_000)
        worker.flush()
        #expect(log.count == 9_999, "each replaced value, and not the one the copy still shares")
        #expect(log.onCreatorCount == 0, "an old value was destroyed on the assigning thread")
        #expect(log.checkExactlyOnceInOrder(producers: 1, perProducer: 9_999) == nil)
        #expect(copy.value.sequence == 9_999 && wrapper.value.sequence == 10_000)
        _ = consume copy
        _ = consume wrapper
        worker.flush()
        #expect(log.count == 10_001 && log.onCreatorCount == 0)
    }

    @Test("replace(with:) on a noncopyable value: 1,000 old values, each on the worker, in order")
    func replaceNoncopyable() {
        let worker = DropWorker(name: "replace-unique", capacity: .unbounded)
        let log = DestructionLog()
        // UniqueProbe records its payload's length as its sequence.
        var wrapper = DeferDrop(UniqueProbe(log, payload: []), on: worker)
        for sequence in 1...1_000 {
            wrapper.replace(with: UniqueProbe(log, payload: Array(repeating: 0, count: sequence)))
        }
        worker.flush()
        #expect(log.count == 1_000, "each replaced value, and not the one the wrapper holds")
        #expect(log.onCreatorCount == 0, "an old value was destroyed on the replacing thread")
        #expect(log.checkExactlyOnceInOrder(producers: 1, perProducer: 1_000) == nil)
        #expect(wrapper.value.payload.count == 1_000)
        _ = consume wrapper
        worker.flush()
        #expect(log.count == 1_001 && log.onCreatorCount == 0)
    }

    @Test("replace(with:) on a class that is not Sendable, 4 threads × 10,000: every old value on the worker, each thread's in order")
    func replaceNonSendableUnderLoad() {
        let worker = DropWorker(name: "replace-class", capacity: .unbounded)
        let log = DestructionLog()
        onThreads(4) { producer in
            var wrapper = DeferDrop(Probe(log, producer: producer, sequence: 0), on: worker)
            for sequence in 1..<10_000 {
                wrapper.replace(with: Probe(log, producer: producer, sequence: sequence))
            }
            #expect(wrapper.value.sequence == 9_999)
        }
        worker.flush()
        #expect(log.count == 40_000, "every old value, and each last one when its wrapper ended")
        #expect(log.onCreatorCount == 0, "a value was destroyed on the thread that made it")
        #expect(log.checkExactlyOnceInOrder(producers: 4, perProducer: 10_000) == nil)
        #expect(worker.statistics.deferred == 40_000 && worker.statistics.releasedElsewhere == 0)
    }

    @Test("replace(with:) on a copy that shares its storage: the old value stays with the other copies, and leaves with the last")
    func replaceSharedCopies() {
        let worker = DropWorker(name: "replace-shared", capacity: .unbounded)
        let log = DestructionLog()
        var wrapper = DeferDrop(Probe(log, sequence: 0), on: worker)
        let copy = wrapper
        wrapper.replace(with: Probe(log, sequence: 1))
        worker.flush()
        #expect(log.count == 0, "the copy still holds the old value")
        #expect(copy.value.sequence == 0 && wrapper.value.sequence == 1)
        _ = consume copy
        worker.flush()
        #expect(log.all.map(\.sequence) == [0] && log.onCreatorCount == 0)
        _ = consume wrapper
        worker.flush()
        #expect(log.count == 2 && log.onCreatorCount == 0)
    }

    @Test("replace(with:) on copies shared by 4 threads at once: each old value handed over once, by its last copy, none on a producer")
    func replaceSharedCopiesAcrossThreads() {
        let worker = DropWorker(name: "replace-copies", capacity: .unbounded)
        let destroyed = _Lock<[UInt: Int]>([:])
        let wrappers = (0..<20_000).map { _ in DeferDrop(Counted(destroyed), on: worker) }
        let producers = _Lock<Set<UInt>>([])
        onThreads(4) { _ in
            producers.withLock { _ = $0.insert(currentThread()) }
            var mine = wrappers  // shares every storage with the other threads
            for position in mine.indices {
                mine[position].replace(with: Counted(destroyed))  // a storage of its own
            }
            _ = consume mine
        }
        _ = consume wrappers
        worker.flush()
        let byThread = destroyed.withLock { $0 }
        #expect(byThread.values.reduce(0, +) == 100_000, "20,000 originals and 80,000 replacements, each once")
        #expect(producers.withLock { $0 }.isDisjoint(with: byThread.keys), "none destroyed on a producer")
        #expect(worker.statistics.deferred == 100_000 && worker.statistics.pending == 0)
    }

    @Test("@DeferredDrop: assignment defers the old value, mutation is in place, the last value is deferred with its owner")
    func propertyWrapper() {
        struct Owner {
            @DeferredDrop var probes: [SendableProbe]

            init(_ probes: [SendableProbe], on worker: DropWorker) {
                _probes = DeferredDrop(wrappedValue: probes, on: worker)
            }
        }
        let worker = DropWorker(name: "property")
        let log = DestructionLog()
        var owner = Owner([SendableProbe(log, sequence: 0)], on: worker)
        for sequence in 1..<1_000 {
            owner.probes = [SendableProbe(log, sequence: sequence)]
        }
        for sequence in 1_000..<1_100 {
            owner.probes.append(SendableProbe(log, sequence: sequence))
        }
        worker.flush()
        #expect(log.count == 999, "each replaced array, and nothing the in-place appends kept")
        #expect(owner.probes.count == 101 && owner.$probes.value.count == 101)
        _ = consume owner
        worker.flush()
        #expect(log.count == 1_100)
        #expect(log.onCreatorCount == 0, "a value was destroyed on the owner's thread")
        #expect(log.checkExactlyOnceInOrder(producers: 1, perProducer: 1_100) == nil)
    }

    @Test("@DeferredDrop with a default value, on the shared worker")
    func propertyWrapperDefault() {
        struct Owner {
            @DeferredDrop var index: [String: [Int]] = [:]
        }
        var owner = Owner()
        owner.index["swift", default: []].append(1)
        owner.index["swift", default: []].append(2)
        #expect(owner.index == ["swift": [1, 2]])
        owner.index = [:]
        #expect(owner.index.isEmpty)
    }

    @Test("wrappers as Dictionary values and Set members: looked up by value, destroyed on the worker")
    func dictionaryAndSet() {
        let worker = DropWorker(name: "in-collections", capacity: .unbounded)
        let log = DestructionLog()
        var byName: [String: DeferDrop<[Probe]>] = [:]
        for index in 0..<1_000 {
            byName["key \(index)"] = DeferDrop((0..<10).map { _ in Probe(log) }, on: worker)
        }
        byName["key 7"]?.value.append(Probe(log))
        #expect(byName["key 7"]?.count == 11)

        var tags: Set<DeferDrop<Tag>> = []
        for index in 0..<1_000 {
            tags.insert(DeferDrop(Tag(id: index % 500, probe: Probe(log, producer: 1)), on: worker))
        }
        #expect(tags.count == 500, "equal values make equal wrappers")
        let other = DropWorker(name: "lookup", capacity: .unbounded)
        #expect(tags.contains(DeferDrop(Tag(id: 42, probe: Probe(log, producer: 1)), on: other)),
                "membership looks at the value, not at the disposer")
        other.flush()
        worker.flush()
        #expect(log.count == 1 + 500, "the wrapper made for the lookup, and the 500 duplicates the set turned away")

        _ = consume byName
        _ = consume tags
        worker.flush()
        #expect(log.count == 1 + 500 + 10_001 + 500)
        #expect(log.onCreatorCount == 0, "no element destroyed on the thread that dropped the collections")
    }

    @Test("copy on write: mutating a copy leaves the original alone; both storages go to the worker")
    func copyOnWrite() {
        let worker = DropWorker(name: "cow", capacity: .unbounded)
        let log = DestructionLog()
        var original = DeferDrop((0..<100).map { Probe(log, sequence: $0) }, on: worker)
        var copy = original
        copy.value.append(Probe(log, sequence: 100))
        #expect(original.count == 100, "the original did not change")
        #expect(copy.count == 101)
        copy.value.removeFirst(50)
        #expect(original.value.first?.sequence == 0)
        #expect(copy.value.first?.sequence == 50)
        original.value.append(Probe(log, producer: 1, sequence: 0))
        #expect(original.count == 101 && copy.count == 51, "each storage its own now, modified in place")

        _ = consume original
        _ = consume copy
        worker.flush()
        #expect(worker.statistics.deferred == 2, "each storage hands its value over once")
        #expect(log.count == 102)
        #expect(log.onCreatorCount == 0, "elements shared by both storages were destroyed on the worker")
    }

    @Test("a member set through dynamic lookup on a copy is copied on write too")
    func copyOnWriteThroughMemberLookup() {
        struct Point { var x = 0, y = 0 }
        let worker = DropWorker(name: "cow-member", capacity: .unbounded)
        let original = DeferDrop(Point(x: 1, y: 2), on: worker)
        var copy = original
        copy.x = 10
        #expect(original.x == 1 && copy.x == 10)
        _ = consume original
        _ = consume copy
        worker.flush()
        #expect(worker.statistics.deferred == 2)
    }

    @Test("take() on a shared wrapper returns a copy and defers nothing for the others")
    func takeFromSharedStorage() {
        let worker = DropWorker(name: "take-shared", capacity: .unbounded)
        let log = DestructionLog()
        let original = DeferDrop([Probe(log, sequence: 1)], on: worker)
        let other = original
        var taken: [Probe]? = (consume original).take()
        #expect(taken?.first?.sequence == 1)
        taken = nil
        #expect(log.count == 0, "the other copy still holds the value")
        worker.flush()
        #expect(worker.statistics.deferred == 0)
        _ = consume other
        worker.flush()
        #expect(worker.statistics.deferred == 1)
        #expect(log.count == 1 && log.onCreatorCount == 0)
        _ = taken
    }

    @Test("take() from a copyable wrapper in code generic over noncopyable values")
    func takeGenerically() {
        let worker = DropWorker(name: "take-generic", capacity: .unbounded)
        let original = DeferDrop([1, 2, 3], on: worker)
        let other = original
        #expect(takeAnyValue(consume original) == [1, 2, 3], "shared: a copy")
        #expect(takeAnyValue(consume other) == [1, 2, 3], "unique: moved")
        worker.flush()
        #expect(worker.statistics.deferred == 0)
    }

    @Test("captured by an escaping closure: destroyed on the worker when the closure goes")
    func escapingClosure() {
        let worker = DropWorker(name: "closure", capacity: .unbounded)
        let log = DestructionLog()
        var count: (() -> Int)?
        do {
            let wrapper = DeferDrop((0..<1_000).map { Probe(log, sequence: $0) }, on: worker)
            count = { wrapper.count }
        }
        #expect(count?() == 1_000)
        count = nil
        worker.flush()
        #expect(log.count == 1_000)
        #expect(log.onCreatorCount == 0)
    }

    @Test("copies dropped on 4 threads at once: each storage handed over once, none on a producer")
    func copiesAcrossThreads() {
        let worker = DropWorker(name: "copies-load", capacity: .unbounded)
        let destroyed = _Lock<[UInt: Int]>([:])
        let wrappers = (0..<20_000).map { _ in DeferDrop(Counted(destroyed), on: worker) }
        let producers = _Lock<Set<UInt>>([])
        onThreads(4) { index in
            producers.withLock { _ = $0.insert(currentThread()) }
            var mine = wrappers  // shares every storage with the other threads
            if index == 0 {
                for position in mine.indices where position % 2 == 0 {
                    mine[position].value = Counted(destroyed)  // copy on write: a storage of its own
                }
            }
            _ = consume mine
        }
        _ = consume wrappers
        worker.flush()
        let byThread = destroyed.withLock { $0 }
        #expect(byThread.values.reduce(0, +) == 30_000, "20,000 originals and 10,000 replacements, each once")
        #expect(producers.withLock { $0 }.isDisjoint(with: byThread.keys), "none destroyed on a producer")
        #expect(worker.statistics.deferred == 30_000 && worker.statistics.pending == 0)
    }

    @Test("Equatable, Hashable and Comparable look at the value only")
    func comparisons() {
        let one = DropWorker(name: "compare-1", capacity: .unbounded)
        let two = DropWorker(name: "compare-2", capacity: .unbounded)
        #expect(DeferDrop(1, on: one) == DeferDrop(1, on: two))
        #expect(DeferDrop(1, on: one) != DeferDrop(2, on: one))
        #expect(DeferDrop("a", on: one).hashValue == DeferDrop("a", on: two).hashValue)
        #expect(DeferDrop("a").hashValue == "a".hashValue, "hashes as its value")
        #expect(DeferDrop(1) < DeferDrop(2))
        let sorted = [3, 1, 2].map { DeferDrop($0, on: one) }.sorted()
        #expect(sorted.map(\.value) == [1, 2, 3])
        #expect([DeferDrop(5), DeferDrop(9), DeferDrop(7)].max()?.value == 9)
    }

    @Test("description is the value's; debugDescription names the wrapper")
    func descriptions() {
        #expect("\(DeferDrop([1, 2]))" == "[1, 2]")
        #expect(String(describing: DeferDrop("text")) == "text")
        #expect(String(reflecting: DeferDrop(["a", "b"])) == #"DeferDrop(["a", "b"])"#)
        #expect(String(reflecting: DeferDrop(DeferDrop(1))) == "DeferDrop(DeferDrop(1))")
    }

    @Test("Codable is transparent: DeferDrop([1, 2]) is [1,2] in JSON, and a model round-trips")
    func codable() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(String(decoding: try encoder.encode(DeferDrop([1, 2])), as: UTF8.self) == "[1,2]")

        struct Model: Codable, Equatable {
            var name: String
            var index: DeferDrop<[String: [Int]]>
            var tags: [DeferDrop<String>]
            var created: DeferDrop<Date>
        }
        encoder.dateEncodingStrategy = .secondsSince1970
        let model = Model(
            name: "m", index: DeferDrop(["a": [1, 2], "b": []]), tags: [DeferDrop("x"), DeferDrop("y")],
            created: DeferDrop(Date(timeIntervalSince1970: 1_000)))
        let json = String(decoding: try encoder.encode(model), as: UTF8.self)
        #expect(json == #"{"created":1000,"index":{"a":[1,2],"b":[]},"name":"m","tags":["x","y"]}"#,
                "the value is encoded through a single-value container, so the date strategy applies")

        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        let decoded = try decoder.decode(Model.self, from: Data(json.utf8))
        #expect(decoded == model)
        #expect(try decoder.decode(DeferDrop<[Int]>.self, from: Data("[1,2]".utf8)).value == [1, 2])
        #expect(throws: DecodingError.self) { try decoder.decode(DeferDrop<[Int]>.self, from: Data("{}".utf8)) }
    }

    @Test("decoding wraps for the global worker")
    func decodedWrapsForSharedWorker() throws {
        struct Payload: Decodable { var numbers: [Int] }
        let before = DropWorker.shared.statistics.deferred
        do {
            let decoded = try JSONDecoder().decode(DeferDrop<Payload>.self, from: Data(#"{"numbers":[1]}"#.utf8))
            #expect(decoded.numbers == [1])
        }
        DropWorker.shared.flush()
        #expect(DropWorker.shared.statistics.deferred > before)
    }
}

/// Takes the value out of a wrapper in code that also accepts noncopyable values.
@inline(never)
func takeAnyValue<Value: ~Copyable>(_ wrapper: consuming DeferDrop<Value>) -> Value {
    wrapper.take()
}

/// A Hashable value, identified by `id`, that holds a probe.
struct Tag: Hashable {
    let id: Int
    let probe: Probe

    static func == (left: Tag, right: Tag) -> Bool { left.id == right.id }
    func hash(into hasher: inout Hasher) { hasher.combine(id) }
}

/// A Sendable object that counts its destructions by thread.
final class Counted: Sendable {
    let destroyed: _Lock<[UInt: Int]>
    init(_ destroyed: _Lock<[UInt: Int]>) { self.destroyed = destroyed }
    deinit {
        let thread = currentThread()
        destroyed.withLock { $0[thread, default: 0] += 1 }
    }
}

/// A `Sendable` class whose deinit records the thread it runs on: what the
/// `value` setter, which needs `Sendable`, can be given.
final class SendableProbe: Sendable {
    let log: DestructionLog
    let sequence: Int
    let creator = currentThread()

    init(_ log: DestructionLog, sequence: Int) {
        self.log = log
        self.sequence = sequence
    }

    deinit {
        log.recordDestruction(sequence: sequence, creator: creator)
    }
}
