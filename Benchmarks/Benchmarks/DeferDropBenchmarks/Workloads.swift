/// A small heap object: one allocation to free.
final class Leaf: Sendable {
    let value: Int
    init(_ value: Int) { self.value = value }
}

/// The crate's demo: 1000 × 1000 heap-allocated strings (longer than Swift's
/// 15-byte inline limit, so each is an allocation, as in Rust).
func makeCrateDemo() -> [[String]] {
    (0..<1000).map { _ in (0..<1000).map { _ in String(decoding: Array(longString.utf8), as: UTF8.self) } }
}

private let longString = "Hello, World, from the heap!"

/// The article's workload: a million keys, each mapped to a one-element array.
func makeArticleMap() -> [Int: [Int]] {
    var map: [Int: [Int]] = [:]
    map.reserveCapacity(1_000_000)
    for key in 0..<1_000_000 {
        map[key] = [key]
    }
    return map
}

/// `count` small objects.
func makeLeaves(_ count: Int) -> [Leaf] {
    (0..<count).map(Leaf.init)
}
