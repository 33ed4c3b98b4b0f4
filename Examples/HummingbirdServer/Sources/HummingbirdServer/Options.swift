import DeferDrop

/// The command line: `--host`, `--port` and `--size`, each with a default.
struct Options {
    var host = "127.0.0.1"
    var port = 8080
    /// Keys or objects per request when the request gives no `size`.
    var size = 50_000
    /// The `timed` mode's worker: its maximum wait and its priority.
    var maximumWaitMilliseconds = 20
    var timedPriority = DropPriority.idle

    init(_ arguments: some Sequence<String>) {
        var arguments = arguments.makeIterator()
        while let argument = arguments.next() {
            let value = arguments.next()
            switch (argument, value) {
            case ("--host", let value?): host = value
            case ("--port", let value?): port = Self.number(value, for: argument)
            case ("--size", let value?): size = Self.number(value, for: argument)
            case ("--maximum-wait-ms", let value?): maximumWaitMilliseconds = Self.number(value, for: argument)
            case ("--timed-priority", "normal"): timedPriority = .normal
            case ("--timed-priority", "batch"): timedPriority = .batch
            case ("--timed-priority", "idle"): timedPriority = .idle
            default: Self.usage("unexpected \(argument) \(value ?? "")")
            }
        }
    }

    private static func number(_ text: String, for option: String) -> Int {
        guard let number = Int(text), number > 0 else { usage("\(option) \(text): give a positive number") }
        return number
    }

    private static func usage(_ problem: String) -> Never {
        print("HummingbirdServer: \(problem)\nusage: HummingbirdServer [--host 127.0.0.1] [--port 8080] [--size 50000] [--maximum-wait-ms 20] [--timed-priority normal|batch|idle]")
        exit(2)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
