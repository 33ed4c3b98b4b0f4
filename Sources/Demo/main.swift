// The Rust crate's examples/demo.rs, ported: build a large nested vector of
// strings, duplicate it, then time dropping one copy through DeferDrop and the
// other in the foreground. Then the same for the article's workload, a
// dictionary of a million small arrays. Last, several producer threads at
// once, through the single worker and through a sharded pool.
//
//     swift run -c release demo
//
// The work happens in functions: values in top-level code are globals, which
// live until the process ends and so could not be dropped and timed.

startWorker()
print()
nestedVectorDemo()
print()
dictionaryDemo()
print()
producersDemo()
print()
printWorkerSummary()
printAllocatorSummary()
