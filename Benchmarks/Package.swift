// swift-tools-version: 6.1
//
// Benchmarks for DeferDrop, apart from the library so that the library keeps
// no dependencies. Run from this folder:
//
//     swift package benchmark                      # everything (about 10 minutes)
//     swift package benchmark --filter "Crate.*"   # one workload
//
// Needs libjemalloc-dev: the root package's `Jemalloc` trait is on here, so every
// benchmark can report reclaimed bytes. With DEFERDROP_BENCHMARK_ALLOCATOR=glibc
// the trait is off and glibc's allocator runs everything instead (no reclaimed
// bytes); Docs/Scaling.md compares both allocators.

import PackageDescription

let onGlibc = Context.environment["DEFERDROP_BENCHMARK_ALLOCATOR"] == "glibc"

let package = Package(
    name: "DeferDropBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "DeferDrop", path: "..", traits: onGlibc ? [] : ["Jemalloc"]),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "DeferDropBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "DeferDrop", package: "DeferDrop"),
                .product(name: "ShardedDrop", package: "DeferDrop"),
            ],
            path: "Benchmarks/DeferDropBenchmarks",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
    ]
)
