/// What a request builds, uses once and drops: the structures whose
/// destruction DeferDrop moves off the request's thread.

/// The article's workload: `keys` keys, each mapped to a one-element array, so
/// dropping it frees `keys + 1` heap blocks.
func makeMap(keys: Int) -> [Int: [Int]] {
    var map: [Int: [Int]] = [:]
    map.reserveCapacity(keys)
    for key in 0..<keys {
        map[key] = [key]
    }
    return map
}

/// A small heap object, as a parsed document or an ORM row is made of.
final class Node: Sendable {
    let id: Int
    let label: String

    init(id: Int) {
        self.id = id
        label = "node \(id), long enough for a heap string"
    }
}

/// `count` small objects in an array: dropping it releases each of them.
func makeObjects(count: Int) -> [Node] {
    (0..<count).map(Node.init)
}

/// The structures a route can build.
enum Workload: String, CaseIterable, Sendable {
    /// `makeMap(keys:)`.
    case map
    /// `makeObjects(count:)`.
    case objects
}
