// swift-tools-version: 6.1
//
// Benchmarks for DeferDrop, apart from the library so that the library keeps
// no dependencies. Run from this folder:
//
//     swift package benchmark                      # everything (about 10 minutes)
//     swift package benchmark --filter "Crate.*"   # one workload
//
// Needs libjemalloc-dev: the root package's `Jemalloc` trait is on here, so every
// benchmark can report reclaimed bytes.

import PackageDescription

let package = Package(
    name: "DeferDropBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "DeferDrop", path: "..", traits: ["Jemalloc"]),
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
