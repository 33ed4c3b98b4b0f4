// The scaling benchmark: how each way of freeing holds up as producer
// threads are added. See Package.swift and Docs/Scaling.md.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

let options = Options(arguments: CommandLine.arguments)
let processors = sysconf(Int32(_SC_NPROCESSORS_ONLN))
print("""
    # scaling: \(processors) processors, allocator \(options.allocator), \(options.repeats) repeats, \
    medians; ratios to inline in the same repeat
    """)

// Warm-up, not reported: every mode's code paths and threads once.
var warmUp = options
warmUp.objects = 20_000
for mode in options.modes { _ = measure(.objects, mode: mode, producers: 1, options: warmUp) }

var csv = "allocator,workload,producers,mode,repeat,producer_ns,all_destroyed_ms,values,freed_inline,peak_mib,rounds_per_s,p99_us\n"

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

func format(_ value: Double, _ digits: Int = 1) -> String {
    guard value.isFinite else { return "–" }
    var scaled = (value * pow(10, Double(digits))).rounded() / pow(10, Double(digits))
    if scaled == -0 { scaled = 0 }
    let text = "\(scaled)"
    return text.hasSuffix(".0") && digits == 0 ? String(text.dropLast(2)) : text
}

for workload in options.workloads {
    let rounds = workload == .rounds
    print("""

        ## \(workload.rawValue): per producer, \(
            workload == .objects ? "\(options.objects) small objects"
            : workload == .arrays ? "\(options.arrays) arrays of 5,000 objects"
            : "\(options.seconds) s of rounds (build, sum and drop a 10,000-key [Int: [Int]])")

        """)
    print(rounds
        ? "| P | mode | rounds/s | × inline | p99 round µs | × inline | freed inline | peak MiB |"
        : "| P | mode | producer ns per \(workload.valueName) | × inline | all destroyed ms | × inline | freed inline | peak MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for producers in options.producerCounts {
        var results: [[Measurement]] = []  // [repeat][mode]
        for repeatIndex in 0..<options.repeats {
            let row = options.modes.map { mode in
                let result = measure(workload, mode: mode, producers: producers, options: options)
                csv += "\(options.allocator),\(workload.rawValue),\(producers),\(mode.name),\(repeatIndex),"
                    + "\(result.producerNanoseconds),\(result.allDestroyedMilliseconds),\(result.values),"
                    + "\(result.freedInline),\(result.peakMebibytes),\(result.roundsPerSecond),\(result.p99Microseconds)\n"
                return result
            }
            results.append(row)
        }
        let inline = options.modes.firstIndex { $0.kind == .inline }!
        for (index, mode) in options.modes.enumerated() {
            let runs = results.map { $0[index] }
            let base = results.map { $0[inline] }
            func ratio(_ figure: (Measurement) -> Double) -> String {
                let value = median(zip(runs, base).map { figure($0) / figure($1) })
                return format(value, value < 0.1 ? 3 : 2) + "×"
            }
            let freed = median(runs.map { Double($0.freedInline) / Double(max($0.values, 1)) * 100 })
            let first = rounds
                ? "\(format(median(runs.map(\.roundsPerSecond)), 0)) | \(ratio(\.roundsPerSecond)) | "
                    + "\(format(median(runs.map(\.p99Microseconds)), 0)) | \(ratio(\.p99Microseconds))"
                : "\(format(median(runs.map(\.producerNanoseconds)))) | \(ratio(\.producerNanoseconds)) | "
                    + "\(format(median(runs.map(\.allDestroyedMilliseconds)))) | \(ratio(\.allDestroyedMilliseconds))"
            print("| \(producers) | \(mode.name) | \(first) | \(format(freed, 0))% | \(format(median(runs.map(\.peakMebibytes)), 0)) |")
        }
    }
}

if let path = options.csvPath {
    guard let file = fopen(path, "w") else { Options.fail("cannot write \(path)") }
    fputs(csv, file)
    fclose(file)
}
