/// Stops the program with `message` unless `condition` holds, in every build.
///
/// The standard library's `precondition` drops its message in optimised
/// builds, leaving a bare trap; a user who passed bad input deserves to read
/// which value was wrong whatever the build, so input checks use this instead.
/// `package` so that the package's other modules check their input the same way.
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
