/// A small class instance: one allocation, one release.
final class Leaf: Sendable {
    let value: Int
    init(_ value: Int) { self.value = value }
}

/// What each producer hands over.
enum Workload: String, CaseIterable, Sendable {
    /// Small objects, one at a time, made before the clock starts.
    case objects
    /// Arrays of 5,000 small objects, one array at a time, made before the
    /// clock starts.
    case arrays
    /// A loop that builds a 10,000-key `[Int: [Int]]`, sums it and drops it:
    /// where the allocator's reuse of freed memory matters most.
    case rounds

    static let arrayLength = 5_000
    static let mapKeys = 10_000

    /// What one value is, for the tables.
    var valueName: String {
        switch self {
        case .objects: "object"
        case .arrays: "array of 5,000"
        case .rounds: "round"
        }
    }
}

/// One producer's part of a measurement.
struct ProducerRun {
    /// Nanoseconds from the start to this producer's last hand-off.
    var nanoseconds: Double = 0
    /// Values (rounds, for `rounds`) handed over.
    var values = 0
    /// Each round's nanoseconds, for `rounds`.
    var roundNanoseconds: [Double] = []
}

extension Workload {
    /// Runs one producer's part: makes its values, calls `ready` and waits in
    /// it for the common start, then hands every value to `freer`.
    func produce(_ options: Options, on freer: Freer, ready: () -> Void) -> ProducerRun {
        switch self {
        case .objects:
            return Self.handOver((0..<options.objects).map { Leaf($0) }, to: freer, ready: ready)
        case .arrays:
            let arrays = (0..<options.arrays).map { _ in (0..<Self.arrayLength).map { Leaf($0) } }
            return Self.handOver(arrays, to: freer, ready: ready)
        case .rounds:
            var run = ProducerRun()
            ready()
            let start = now()
            let end = start + options.seconds * 1e9
            var checksum = 0
            var roundStart = start
            while roundStart < end {
                var map: [Int: [Int]] = [:]
                map.reserveCapacity(Self.mapKeys)
                for key in 0..<Self.mapKeys { map[key] = [key, key &+ 1] }
                for (key, value) in map { checksum &+= key &+ value[1] }
                freer.free(consume map)
                let roundEnd = now()
                run.roundNanoseconds.append(roundEnd - roundStart)
                roundStart = roundEnd
            }
            run.nanoseconds = roundStart - start
            run.values = run.roundNanoseconds.count
            if checksum == 42 { print("") }  // keeps the sums from being optimised away
            return run
        }
    }

    /// Calls `ready`, then hands `values` to `freer` one at a time, last
    /// first, moving each.
    private static func handOver<Value: Sendable>(
        _ values: consuming [Value], to freer: Freer, ready: () -> Void
    ) -> ProducerRun {
        var values = values
        let count = values.count
        ready()
        let start = now()
        while let value = values.popLast() { freer.free(consume value) }
        return ProducerRun(nanoseconds: now() - start, values: count)
    }
}
