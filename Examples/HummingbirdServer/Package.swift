// swift-tools-version: 6.1
//
// An HTTP server that builds and drops a large structure per request, in each
// of the ways a Swift server author could drop it, with DeferDrop's metrics on
// `/metrics`. A package of its own, like `Benchmarks/`, so that the library
// gains no dependency. From this folder:
//
//     swift run -c release HummingbirdServer --port 8080
//     Scripts/load.sh                      # wrk against every mode (needs wrk)
//
// `--traits Jemalloc` (needs libjemalloc-dev) links jemalloc, as the root
// package's trait of the same name does.

import PackageDescription

let package = Package(
    name: "HummingbirdServer",
    platforms: [.macOS(.v15)],
    traits: [
        .trait(name: "Jemalloc", description: "Build DeferDrop with its Jemalloc trait: jemalloc allocates for the server."),
    ],
    dependencies: [
        .package(
            name: "DeferDrop", path: "../..",
            traits: ["Metrics", "ServiceLifecycle", .trait(name: "Jemalloc", condition: .when(traits: ["Jemalloc"]))]),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
    ],
    targets: [
        .executableTarget(
            name: "HummingbirdServer",
            dependencies: [
                .product(name: "DeferDrop", package: "DeferDrop"),
                .product(name: "ShardedDrop", package: "DeferDrop"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        ),
    ]
)
