// swift-tools-version: 6.1
//
// DeferDrop: destroy large values on a background thread instead of the one
// that drops them. The library depends on nothing outside the Swift toolchain,
// unless the `Jemalloc` trait links jemalloc for allocator statistics.

import PackageDescription

let strictSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "DeferDrop",
    products: [
        .library(name: "DeferDrop", targets: ["DeferDrop"]),
        .library(name: "ShardedDrop", targets: ["ShardedDrop"]),
        .executable(name: "demo", targets: ["Demo"]),
    ],
    traits: [
        .trait(
            name: "Jemalloc",
            description: """
                Link jemalloc (libjemalloc-dev), which then allocates for the whole process, \
                for exact per-worker reclaimed bytes and allocator statistics.
                """
        ),
        // No default traits: without `Jemalloc`, building needs nothing but the toolchain.
    ],
    targets: [
        .target(
            name: "DeferDrop",
            dependencies: [
                "_DeferDropShims",
                .target(name: "CJemalloc", condition: .when(traits: ["Jemalloc"])),
            ],
            swiftSettings: strictSettings
        ),
        // jemalloc as a system library, linked only with the `Jemalloc` trait.
        .systemLibrary(
            name: "CJemalloc",
            pkgConfig: "jemalloc",
            providers: [.apt(["libjemalloc-dev"])]
        ),
        // Opt-in: a pool of drop workers, each producer thread pinned to one.
        .target(
            name: "ShardedDrop",
            dependencies: ["DeferDrop", "_DeferDropShims"],
            swiftSettings: strictSettings
        ),
        // Linux calls that Swift cannot import directly (GNU extensions, macros). Internal.
        .target(name: "_DeferDropShims"),
        .executableTarget(
            name: "Demo",
            dependencies: ["DeferDrop", "ShardedDrop"],
            swiftSettings: strictSettings
        ),
        // Probes and threads shared by the test targets.
        .target(
            name: "DeferDropTestSupport",
            dependencies: ["DeferDrop", "_DeferDropShims"],
            path: "Tests/DeferDropTestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "DeferDropTests",
            dependencies: ["DeferDrop", "DeferDropTestSupport"],
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ShardedDropTests",
            dependencies: ["ShardedDrop", "DeferDrop", "DeferDropTestSupport"],
            swiftSettings: strictSettings
        ),
    ]
)

// The documentation plugin is needed only to build the DocC catalogs, so it is
// added only on request: `DEFERDROP_DOCS=1 swift package generate-documentation`.
// Everyone else, dependents included, resolves no packages at all.
if Context.environment["DEFERDROP_DOCS"] != nil {
    package.dependencies.append(
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0")
    )
}
