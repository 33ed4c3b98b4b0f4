// swift-tools-version: 6.1
//
// The scaling benchmark: P producer threads at once, through the public API
// only, against every way of freeing (inline, one worker, the pool, each
// capacity). A package of its own, with no dependency but DeferDrop and no
// trait, so that it builds as a static binary for a machine without a
// toolchain and runs there under either allocator (see Docs/Scaling.md):
//
//     swift run -c release scaling                 # P = 1, 2, 4, … up to the processors
//     swift run -c release scaling --help
import PackageDescription

let package = Package(
    name: "Scaling",
    dependencies: [.package(name: "DeferDrop", path: "../..")],
    targets: [
        .executableTarget(
            name: "scaling",
            dependencies: [
                .product(name: "DeferDrop", package: "DeferDrop"),
                .product(name: "ShardedDrop", package: "DeferDrop"),
            ],
            swiftSettings: [.swiftLanguageMode(.v6)]
        )
    ]
)
