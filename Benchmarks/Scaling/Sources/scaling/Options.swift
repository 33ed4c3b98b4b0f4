#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What to run, from the command line.
struct Options {
    var producerCounts: [Int]
    var modes: [Mode] = Mode.all
    var workloads: [Workload] = Workload.allCases
    var repeats = 3
    /// Small objects each producer hands over in the `objects` workload.
    var objects = 500_000
    /// Arrays of 5,000 objects each producer hands over in the `arrays` workload.
    var arrays = 100
    /// How long each producer loops in the `rounds` workload.
    var seconds = 1.0
    /// Where to write every measurement as CSV, besides the tables on stdout.
    var csvPath: String?
    /// A label for the allocator, written into the CSV (`glibc`, `jemalloc`).
    var allocator = "glibc"

    static let usage = """
        usage: scaling [--producers 1,2,4] [--modes inline,worker,...] [--workloads objects,arrays,rounds]
                       [--repeats 3] [--objects 500000] [--arrays 100] [--seconds 1] [--csv FILE] [--allocator LABEL]

        P producer threads at once hand their values to each mode in turn, through the
        public API; every figure is the median of --repeats runs, and every ratio is to
        inline in the same run. Producer counts default to 1, 2, 4, … up to the
        processors (at least 4). Modes: \(Mode.all.map(\.name).joined(separator: ", ")).
        """

    init(arguments: [String]) {
        let processors = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        producerCounts = Array(sequence(first: 1) { $0 * 2 }.prefix { $0 <= max(processors, 4) })
        var rest = arguments.dropFirst()
        func value(of flag: String) -> String {
            guard let value = rest.popFirst() else { Self.fail("\(flag) needs a value") }
            return value
        }
        func number<T: LosslessStringConvertible & Comparable & Numeric>(_ flag: String, as: T.Type) -> T {
            let text = value(of: flag)
            guard let number = T(text), number > 0 else { Self.fail("\(flag) \(text): give a positive number") }
            return number
        }
        while let flag = rest.popFirst() {
            switch flag {
            case "--producers":
                let text = value(of: flag)
                producerCounts = text.split(separator: ",").map { part in
                    guard let count = Int(part), (1...4096).contains(count) else {
                        Self.fail("--producers \(text): give counts from 1 to 4096, separated by commas")
                    }
                    return count
                }
            case "--modes":
                let text = value(of: flag)
                modes = text.split(separator: ",").map { name in
                    guard let mode = Mode.all.first(where: { $0.name == name }) else {
                        Self.fail("--modes: no mode \(name); the modes are \(Mode.all.map(\.name).joined(separator: ", "))")
                    }
                    return mode
                }
            case "--workloads":
                let text = value(of: flag)
                workloads = text.split(separator: ",").map { name in
                    guard let workload = Workload(rawValue: String(name)) else {
                        Self.fail("--workloads: no workload \(name); they are objects, arrays, rounds")
                    }
                    return workload
                }
            case "--repeats": repeats = number(flag, as: Int.self)
            case "--objects": objects = number(flag, as: Int.self)
            case "--arrays": arrays = number(flag, as: Int.self)
            case "--seconds": seconds = number(flag, as: Double.self)
            case "--csv": csvPath = value(of: flag)
            case "--allocator": allocator = value(of: flag)
            case "--help", "-h":
                print(Self.usage)
                exit(0)
            default:
                Self.fail("unknown argument \(flag)")
            }
        }
        if !modes.contains(where: { $0.name == "inline" }) { modes.insert(Mode.all[0], at: 0) }
    }

    static func fail(_ message: String) -> Never {
        let text = "scaling: \(message)\n\n\(usage)\n"
        _ = text.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
        exit(2)
    }
}
