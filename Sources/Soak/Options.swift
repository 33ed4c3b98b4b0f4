import DeferDropTestSupport

/// The soak's command line.
struct SoakOptions {
    var seconds = 10
    var seed = UInt64(UInt32(truncatingIfNeeded: time(nil)))
    var verbose = false
    /// Whether some rounds fork (`Forks.swift`); never under ThreadSanitizer.
    var forks = forksAreSupported()

    static func parse(_ arguments: ArraySlice<String>) -> SoakOptions {
        var options = SoakOptions()
        var arguments = arguments
        while let argument = arguments.popFirst() {
            switch argument {
            case "--seconds":
                guard let value = arguments.popFirst().flatMap(Int.init), value > 0 else {
                    usage("--seconds needs a positive whole number of seconds")
                }
                options.seconds = value
            case "--seed":
                guard let value = arguments.popFirst().flatMap({ UInt64($0) }) else {
                    usage("--seed needs a whole number")
                }
                options.seed = value
            case "--verbose":
                options.verbose = true
            case "--no-forks":
                options.forks = false
            case "--help", "-h":
                usage(nil)
            default:
                usage("unknown argument '\(argument)'")
            }
        }
        return options
    }
}

private func usage(_ problem: String?) -> Never {
    if let problem { print("soak: \(problem)") }
    print("usage: soak [--seconds N] [--seed N] [--verbose] [--no-forks]")
    exit(problem == nil ? 0 : 2)
}
