import DeferDrop
import ShardedDrop

/// What one round of the soak hands its values to, and how.
struct Scenario: CustomStringConvertible {
    enum Target {
        case shared
        case worker(DropCapacity, DropPriority)
        case pool(shards: Int, DropCapacity)
    }

    var target: Target
    var producers: Int
    var valuesPerProducer: Int
    /// The chance that a value hands a nested one over from its destructor.
    var nestedChance: Double
    /// The chance that a hand-off is followed by a flush.
    var flushChance: Double
    /// The chance that a value is slow to destroy, and how slow.
    var slowChance: Double
    var slowNanoseconds: UInt64
    /// After how many hand-offs in all a concurrent `shutdown()` begins, if one does.
    var shutdownAfter: Int?
    /// How many times the process forks during the round (`Forks.swift`).
    var forks = 0
    /// Whether a thread sets the target's capacity at random while the producers hand over.
    var switchesCapacity = false

    /// A random round; one that may fork if `forking`.
    static func random(using random: inout SoakRandom, round: Int, forking: Bool) -> Scenario {
        let capacity = randomCapacity(using: &random)
        let target: Target = switch Int.random(in: 0..<5, using: &random) {
        case 0: .shared
        case 1, 2: .worker(capacity, [DropPriority.normal, .batch, .idle].randomElement(using: &random)!)
        default: .pool(shards: Int.random(in: 1...4, using: &random), capacity)
        }
        let producers = Int.random(in: 1...8, using: &random)
        let values = Int.random(in: 1...(random.chance(0.2) ? 20_000 : 2_000), using: &random)
        let isShared = if case .shared = target { true } else { false }
        var scenario = Scenario(
            target: target, producers: producers, valuesPerProducer: values,
            nestedChance: random.chance(0.5) ? Double.random(in: 0...0.3, using: &random) : 0,
            flushChance: random.chance(0.7) ? Double.random(in: 0...0.02, using: &random) : 0,
            slowChance: random.chance(0.3) ? Double.random(in: 0...0.05, using: &random) : 0,
            slowNanoseconds: UInt64.random(in: 1_000...200_000, using: &random),
            shutdownAfter: !isShared && random.chance(0.3)
                ? Int.random(in: 0...(producers * values), using: &random) : nil)
        // Not at `idle`: while the parent's producers keep every core busy,
        // a child's worker at `idle` gets almost no CPU, as documented.
        if forking, scenario.priority != .idle, random.chance(0.1) {
            scenario.forks = Int.random(in: 1...3, using: &random)
        }
        // Not the shared worker's: later rounds read its capacity. Not with
        // forks: a pool whose priority follows its capacity may turn `.idle`.
        if !isShared, scenario.forks == 0, random.chance(0.15) { scenario.switchesCapacity = true }
        return scenario
    }

    /// One of every kind of capacity, at random.
    static func randomCapacity(using random: inout SoakRandom) -> DropCapacity {
        switch Int.random(in: 0..<5, using: &random) {
        case 0: .unbounded
        case 1: .bounded(Int.random(in: 1...64, using: &random), whenFull: .block)
        case 2: .bounded(Int.random(in: 1...64, using: &random), whenFull: .destroyInline)
        case 3: .timeBounded(maximumWait: .milliseconds(Int.random(in: 1...20, using: &random)))
        default: .server
        }
    }

    var description: String {
        let target = switch target {
        case .shared: "DropWorker.shared"
        case .worker(let capacity, let priority): "DropWorker(capacity: \(capacity), priority: \(priority))"
        case .pool(let shards, let capacity): "ShardedDropPool(shards: \(shards), capacity: \(capacity))"
        }
        var text = "\(target), \(producers) producers × \(valuesPerProducer) values"
        if nestedChance > 0 { text += ", nested \(Int(nestedChance * 100))%" }
        if flushChance > 0 { text += ", flush \(String(format: flushChance * 100))%" }
        if slowChance > 0 { text += ", slow \(String(format: slowChance * 100))% × \(slowNanoseconds / 1000) µs" }
        if let shutdownAfter { text += ", shutdown after \(shutdownAfter)" }
        if forks > 0 { text += ", \(forks) forks" }
        if switchesCapacity { text += ", switching capacity" }
        return text
    }

    /// Whether no value may be destroyed on its producer's thread while the
    /// worker runs: no time bound, and a full queue blocks.
    var isStrict: Bool {
        if switchesCapacity { return false }
        return switch capacity {
        case .unbounded, .bounded(_, whenFull: .block): true
        default: false
        }
    }

    /// The priority of the round's worker, or of each shard.
    var priority: DropPriority {
        switch target {
        case .shared: DropWorker.shared.priority
        case .worker(_, let priority): priority
        case .pool(_, let capacity): capacity.defaultPriority
        }
    }

    /// The bound on pending values, if the capacity has one.
    var bound: Int? {
        if !switchesCapacity, case .bounded(let count, _) = capacity { return count }
        return nil
    }

    /// The capacity of the round's worker, or of each shard.
    var capacity: DropCapacity {
        switch target {
        case .shared: DropWorker.shared.capacity
        case .worker(let capacity, _): capacity
        case .pool(_, let capacity): capacity
        }
    }
}

private extension String {
    /// `value` with two decimals.
    init(format value: Double) {
        let hundredths = Int((value * 100).rounded())
        self = "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
    }
}
