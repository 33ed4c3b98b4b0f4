// Hands 1,000,000 small objects (or, with `arrays`, 200,000 one-element
// arrays; with `large`, 1,000 arrays of 1,000 objects) to a private worker one
// at a time, then flushes. Run under
// callgrind by Scripts/count-instructions.sh, which reports the instructions
// per value on the producer's thread and on the worker's. Uses only the
// public API that every version of the package has, so that any revision can
// be measured the same way.
import DeferDrop

final class Leaf: Sendable {
    let x = 0
}

@inline(never)
func handOverObjects(_ count: Int, to worker: DropWorker) {
    var leaves = (0..<count).map { _ in Leaf() }
    while let leaf = leaves.popLast() {
        worker.dispose(consume leaf)
    }
}

@inline(never)
func handOverArrays(_ count: Int, of length: Int, to worker: DropWorker) {
    var arrays = (0..<count).map { _ in (0..<length).map { _ in Leaf() } }
    while let array = arrays.popLast() {
        worker.dispose(consume array)
    }
}

let worker = DropWorker(name: "instructions")
switch CommandLine.arguments.dropFirst().first {
case "arrays": handOverArrays(200_000, of: 1, to: worker)
case "large": handOverArrays(1_000, of: 1_000, to: worker)
default: handOverObjects(1_000_000, to: worker)
}
worker.flush()
print(worker.statistics)
