import DeferDrop

/// `rows` arrays of `columns` distinct heap strings.
func makeNestedStrings(rows: Int, columns: Int, element: String) -> [[String]] {
    (0..<rows).map { _ in (0..<columns).map { _ in freshCopy(element) } }
}

/// A copy that shares no storage with `nested`, down to each string's buffer.
func deepCopy(_ nested: [[String]]) -> [[String]] {
    nested.map { row in row.map(freshCopy) }
}

/// A string equal to `string` in a buffer of its own.
func freshCopy(_ string: String) -> String {
    String(decoding: Array(string.utf8), as: UTF8.self)
}

/// The article's workload: a million keys, each mapped to a one-element array.
func makeMap(keys: Int) -> [Int: [Int]] {
    Dictionary(uniqueKeysWithValues: (0..<keys).lazy.map { ($0, [$0]) })
}
