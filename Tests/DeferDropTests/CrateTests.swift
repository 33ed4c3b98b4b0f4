import DeferDrop
import DeferDropTestSupport
import Testing

/// The Rust crate's own test suite (`defer-drop` 1.3.0, `src/lib.rs`,
/// `mod tests`), ported, and the nesting rules around it.
@Suite("The Rust crate's tests")
struct CrateTests {
    /// The crate's `test`: a value dropped on this thread reports, within one
    /// second, a thread other than this one.
    ///
    /// On a worker with the crate's behaviour, `.unbounded`: the crate's global
    /// thread takes every value, while this package's shared worker frees on
    /// the producer once it is 20 ms behind and runs only on spare CPU, and
    /// the parallel tests leave it little.
    @Test("a dropped value is destroyed on another thread within one second")
    func droppedOnAnotherThread() {
        final class ThreadReporter: Sendable {
            let destroyedOn = _Lock<UInt?>(nil)
            let signal = Signal()
        }
        final class Reports {
            let reporter: ThreadReporter
            init(_ reporter: ThreadReporter) { self.reporter = reporter }
            deinit {
                reporter.destroyedOn.withLock { $0 = currentThread() }
                reporter.signal.raise()
            }
        }
        let reporter = ThreadReporter()
        let worker = DropWorker(name: "crate-test", capacity: .unbounded)
        let thing = DeferDrop(Reports(reporter), on: worker)
        _ = consume thing
        #expect(reporter.signal.wait(seconds: 1), "thing wasn't dropped within one second of being dropped")
        let thread = reporter.destroyedOn.withLock { $0 }
        #expect(thread != nil && thread != currentThread(), "thing wasn't dropped in a different thread")
    }

    /// The crate's `test_no_recursive_send`: wrappers that reach the worker
    /// from its own thread are destroyed there and then, depth first.
    @Test("nested wrappers are destroyed in place, depth first: [0, 1, 2, 3, 4, 5, 6]")
    func noRecursiveSend() {
        let record = _Lock<[Int]>([])
        let value = DropOrderRecorder.crateTree(record: record)
        _ = consume value
        DropWorker.shared.flush()
        #expect(record.withLock { $0 } == [0, 1, 2, 3, 4, 5, 6])
    }

    @Test("the same on a private worker: 7 values deferred and destroyed by the worker, none inline")
    func noRecursiveSendPrivateWorker() {
        let worker = DropWorker(name: "crate-order", capacity: .unbounded)
        let record = _Lock<[Int]>([])
        let value = DropOrderRecorder.crateTree(record: record, on: worker)
        _ = consume value
        worker.flush()
        #expect(record.withLock { $0 } == [0, 1, 2, 3, 4, 5, 6])
        let statistics = worker.statistics
        #expect(statistics.deferred == 7 && statistics.destroyed == 7 && statistics.pending == 0)
        #expect(statistics.destroyedInline == 0, "values destroyed in place are the worker's, not the producer's")
        #expect(statistics.releasedElsewhere == 0)
    }

    @Test("a chain of 100,000 nested wrappers: in place at most 64 deep, then queued; no deadlock")
    func deepChainIsBounded() {
        final class Link: Sendable {
            let next: DeferDrop<Link>?
            let depth: Int
            let seen: _Lock<(count: Int, deepest: Int, inOrder: Bool)>
            init(next: consuming DeferDrop<Link>?, depth: Int, seen: _Lock<(count: Int, deepest: Int, inOrder: Bool)>) {
                self.next = next
                self.depth = depth
                self.seen = seen
            }
            deinit {
                let nesting = DropWorker._currentNestingDepth
                seen.withLock { seen in
                    // Outer links first: the link built last goes first.
                    seen.inOrder = seen.inOrder && depth == 99_999 - seen.count
                    seen.count += 1
                    seen.deepest = max(seen.deepest, nesting)
                }
            }
        }
        let worker = DropWorker(name: "crate-chain", capacity: .unbounded)
        let seen = _Lock((count: 0, deepest: 0, inOrder: true))
        var chain: DeferDrop<Link>? = nil
        for depth in 0..<100_000 {
            chain = DeferDrop(Link(next: chain.take(), depth: depth, seen: seen), on: worker)
        }
        _ = consume chain
        #expect(worker.flush(timeout: .seconds(60)), "the chain was not destroyed within 60 s: a deadlock?")
        let (count, deepest, inOrder) = seen.withLock { $0 }
        #expect(count == 100_000)
        #expect(inOrder, "each link before the links it holds")
        #expect(deepest == DropWorker.maximumNestingDepth, "nested in place up to the bound, and no deeper")
        let statistics = worker.statistics
        #expect(statistics.deferred == 100_000 && statistics.destroyed == 100_000)
        #expect(statistics.peakPending <= 2, "past the bound one link at a time is queued, not the chain")
    }

    @Test("a wrapper for another worker, dropped on this one, is queued there")
    func nestedForAnotherWorker() {
        let outer = DropWorker(name: "crate-outer", capacity: .unbounded)
        let inner = DropWorker(name: "crate-inner", capacity: .unbounded)
        let threads = _Lock<[Int: String]>([:])
        final class Named {
            let id: Int
            let children: [DeferDrop<Named>]
            let threads: _Lock<[Int: String]>
            init(_ id: Int, _ children: [DeferDrop<Named>] = [], _ threads: _Lock<[Int: String]>) {
                self.id = id
                self.children = children
                self.threads = threads
            }
            deinit {
                let name = currentThreadName()
                threads.withLock { $0[id] = name }
            }
        }
        let children = [
            DeferDrop(Named(1, [], threads), on: inner),
            DeferDrop(Named(2, [DeferDrop(Named(3, [], threads), on: outer)], threads), on: inner),
        ]
        let root = DeferDrop(Named(0, consume children, threads), on: outer)
        _ = consume root
        outer.flush()
        inner.flush()
        outer.flush()  // 3 went from inner back to outer
        #expect(threads.withLock { $0 } == [0: "crate-outer", 1: "crate-inner", 2: "crate-inner", 3: "crate-outer"])
        #expect(outer.statistics.deferred == 2 && inner.statistics.deferred == 2)
    }

    @Test("a destructor that hands over a copy of its own field: queued, not destroyed a level deeper each time")
    func nonLastReferenceIsQueued() {
        final class Node: Sendable {
            let next: Node?
            let worker: DropWorker
            let destroyed: _Lock<(count: Int, deepest: Int)>
            init(next: consuming Node?, worker: DropWorker, destroyed: _Lock<(count: Int, deepest: Int)>) {
                self.next = next
                self.worker = worker
                self.destroyed = destroyed
            }
            deinit {
                let nesting = DropWorker._currentNestingDepth
                destroyed.withLock { $0 = ($0.count + 1, max($0.deepest, nesting)) }
                // Hands over a copy: `self.next` still holds the node until
                // this destructor's fields are destroyed.
                if let next { worker.dispose(consume next) }
            }
        }
        let worker = DropWorker(name: "crate-copies", capacity: .unbounded)
        let destroyed = _Lock((count: 0, deepest: 0))
        var head: Node? = nil
        for _ in 0..<20_000 {
            head = Node(next: head.take(), worker: worker, destroyed: destroyed)
        }
        worker.dispose(head.take()!)
        #expect(worker.flush(timeout: .seconds(60)), "the chain was not destroyed within 60 s")
        #expect(destroyed.withLock { $0.count } == 20_000)
        #expect(destroyed.withLock { $0.deepest } == 0, "every node destroyed from the queue, at depth 0")
    }
}
