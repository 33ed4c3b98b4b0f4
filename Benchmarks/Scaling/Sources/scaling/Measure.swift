#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Synchronization

/// The monotonic clock, in nanoseconds.
@inline(__always)
func now() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) * 1e9 + Double(time.tv_nsec)
}

/// What one measurement found: `producers` threads handing their values to
/// one mode at once.
struct Measurement {
    /// The producers' mean time per value, in ns.
    var producerNanoseconds: Double
    /// From the common start until every value was destroyed, in ms.
    var allDestroyedMilliseconds: Double
    /// Values handed over, by all producers.
    var values: Int
    /// Of those, the ones destroyed on their producer.
    var freedInline: UInt64
    /// The process's peak resident memory during the measurement, in MiB.
    var peakMebibytes: Double
    /// Rounds per second, all producers together (`rounds` only).
    var roundsPerSecond: Double
    /// The 99th percentile of the rounds' times, in µs (`rounds` only).
    var p99Microseconds: Double
}

/// Runs `workload` on `producers` threads at once against a fresh freer of
/// `mode`, and waits until everything is destroyed.
func measure(_ workload: Workload, mode: Mode, producers: Int, options: Options) -> Measurement {
    // What earlier measurements freed goes back to the system first, where
    // the allocator can give it (glibc keeps it otherwise), so that the
    // peak is this measurement's: its values, and what the mode held.
    trimHeap()
    let freer = mode.makeFreer()
    let ready = Atomic<Int>(0)
    let start = Atomic<UInt64>(0)
    let runs = Mutex<[ProducerRun]>([])
    let threads = (0..<producers).map { _ in
        startThread {
            let run = workload.produce(options, on: freer) {
                // The last producer ready resets the peak, notes the start
                // and starts everyone.
                if ready.add(1, ordering: .acquiringAndReleasing).newValue == producers {
                    resetPeakMemory()
                    start.store(now().bitPattern, ordering: .relaxed)
                    ready.store(-1, ordering: .releasing)
                }
                while ready.load(ordering: .acquiring) != -1 {}
            }
            runs.withLock { $0.append(run) }
        }
    }
    for thread in threads { pthread_join(thread, nil) }
    freer.letGo()
    freer.flush()
    let allDestroyed = now() - Double(bitPattern: start.load(ordering: .relaxed))
    let peak = peakMemoryMebibytes()
    let freedInline = mode.kind == .inline ? nil : freer.destroyedInline
    freer.shutdown()
    return runs.withLock { runs in
        let values = runs.reduce(0) { $0 + $1.values }
        let perValue = runs.map { $0.nanoseconds / Double(max($0.values, 1)) }
        var rounds = runs.flatMap(\.roundNanoseconds)
        rounds.sort()
        let seconds = (runs.map(\.nanoseconds).max() ?? 1) / 1e9
        return Measurement(
            producerNanoseconds: perValue.reduce(0, +) / Double(perValue.count),
            allDestroyedMilliseconds: allDestroyed / 1e6,
            values: values,
            freedInline: freedInline ?? UInt64(values),
            peakMebibytes: peak,
            roundsPerSecond: rounds.isEmpty ? 0 : Double(rounds.count) / seconds,
            p99Microseconds: rounds.isEmpty ? 0 : rounds[min(rounds.count - 1, rounds.count * 99 / 100)] / 1e3)
    }
}

/// A thread running `body`.
func startThread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
    final class Body: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }
    var thread = pthread_t()
    let result = pthread_create(&thread, nil, { raw in
        Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
        return nil
    }, Unmanaged.passRetained(Body(body)).toOpaque())
    precondition(result == 0, "pthread_create returned \(result)")
    return thread
}

/// Makes the kernel's peak resident size (`VmHWM`) start again from now.
func resetPeakMemory() {
    let file = open("/proc/self/clear_refs", O_WRONLY)
    guard file >= 0 else { return }
    _ = write(file, "5", 1)
    close(file)
}

/// The peak resident size since the last reset, in MiB; 0 where `/proc`
/// does not tell.
func peakMemoryMebibytes() -> Double {
    guard let status = fopen("/proc/self/status", "r") else { return 0 }
    defer { fclose(status) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), status) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix("VmHWM:") {
            let kibibytes = text.split(separator: " ").dropFirst().first.flatMap { Double($0) } ?? 0
            return kibibytes / 1024
        }
    }
    return 0
}

/// glibc's `malloc_trim(0)`, where the allocator has it (the Glibc module
/// does not export it): gives freed heap memory back to the system.
func trimHeap() {
    typealias Trim = @convention(c) (Int) -> Int32
    guard let symbol = dlsym(nil, "malloc_trim") else { return }
    _ = unsafeBitCast(symbol, to: Trim.self)(0)
}
