/// Stops the program with `message` unless `condition` holds, keeping the
/// message in optimised builds, where `precondition` drops it.
@inline(__always)
package func _precondition(
    _ condition: @autoclosure () -> Bool,
    _ message: @autoclosure () -> String,
    file: StaticString = #fileID,
    line: UInt = #line
) {
    if !condition() {
        fatalError(message(), file: file, line: line)
    }
}
