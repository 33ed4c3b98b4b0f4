import DeferDrop

// Swift keeps strings of up to 15 UTF-8 bytes inline, without a heap
// allocation, so the crate's "Hello, World" would allocate nothing per element
// here. A longer string puts every element on the heap, as in Rust.
let element = "Hello, World, from the heap!"

/// Starts the global worker's thread, so that the drops below time the
/// hand-off alone. The crate starts its thread inside its first deferred drop.
func startWorker() {
    let start = ContinuousClock.now
    deferDrop([0])
    DropWorker.shared.flush()
    print("Starting the worker thread \"\(DropWorker.shared.name)\": \(format(ContinuousClock.now - start)) (once per process)")
}

/// The crate's demo: a 1000 × 1000 `[[String]]`.
func nestedVectorDemo() {
    print("Allocating a ridiculously large vector")
    print("  (1000 × 1000 strings of \(element.utf8.count) bytes. Swift stores strings of up to 15 bytes")
    print("   inline, so these are long enough that each is a heap allocation, as in the crate's demo)")
    let vector1 = makeNestedStrings(rows: 1000, columns: 1000, element: element)

    print("Duplicating that vector")
    // A deep copy: `let vector2 = vector1` would share every buffer
    // (copy-on-write), and the second drop would free nothing.
    let vector2 = deepCopy(vector1)
    compareDrops(deferring: consume vector1, inForeground: consume vector2, plural: "vectors")
}

/// The article's workload: `[Int: [Int]]` with a million keys.
func dictionaryDemo() {
    print("Allocating a dictionary of 1,000,000 keys, each holding a small array ([Int: [Int]])")
    let map1 = makeMap(keys: 1_000_000)
    print("Duplicating that dictionary")
    let map2 = makeMap(keys: 1_000_000)
    compareDrops(deferring: consume map1, inForeground: consume map2, plural: "dictionaries")
}

/// Drops `deferred` through a ``DeferDrop`` and `foreground` here, timing each.
///
/// The parameters are `consuming` and passed with `consume`, so this function
/// holds the only reference to each: the wrapper gets the last reference, and
/// the foreground drop frees everything.
func compareDrops<Value: Sendable>(deferring deferred: consuming Value, inForeground foreground: consuming Value, plural: String) {
    let wrapper = DeferDrop(consume deferred)
    let reclaimedBefore = DropWorker.shared.statistics.reclaimedBytes
    print("Dropping the \(plural)")
    let deferredTime = timeDropping(consume wrapper)
    let workerFinished = deferredTime + timeFlush()
    let reclaimedAfter = DropWorker.shared.statistics.reclaimedBytes
    let foregroundTime = timeDropping(consume foreground)

    print("Duration of deferred drop: \(format(deferredTime))")
    print("Duration of foreground drop: \(format(foregroundTime))")
    print("  deferred / foreground: \(ratio(deferredTime, foregroundTime))")
    print("  (the worker finished destroying its copy \(format(workerFinished)) after the hand-off; the")
    print("   foreground drop was timed after that, so the two did not compete for the allocator)")
    if let reclaimedBefore, let reclaimedAfter {
        print("  the worker gave back \(_ByteCount.format(reclaimedAfter - reclaimedBefore))")
    }
}

/// The allocator's view of the process, and how to see reclaimed bytes.
func printAllocatorSummary() {
    print("Process heap: \(AllocatorStatistics.current())")
    if DropWorker.shared.statistics.reclaimedBytes == nil {
        print("  (for the bytes each worker gives back, run with jemalloc:")
        print("   swift run -c release --traits Jemalloc demo   # needs libjemalloc-dev)")
    }
}

func printWorkerSummary() {
    print("Global worker \"\(DropWorker.shared.name)\": \(DropWorker.shared.statistics)")
}
