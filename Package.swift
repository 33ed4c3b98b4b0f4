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

/// What the tests of the `Metrics` and `ServiceLifecycle` traits use, built only with them.
let traitTestDependencies: [Target.Dependency] = [
    .product(name: "MetricsTestKit", package: "swift-metrics", condition: .when(traits: ["Metrics"])),
    .product(name: "ServiceLifecycle", package: "swift-service-lifecycle", condition: .when(traits: ["ServiceLifecycle"])),
    .product(name: "Logging", package: "swift-log", condition: .when(traits: ["ServiceLifecycle"])),
]

let package = Package(
    name: "DeferDrop",
    // What the standard library's `Atomic` and `Mutex` need. Linux (glibc or
    // musl, the static Linux SDK) needs no declaration.
    platforms: [.macOS(.v15), .iOS(.v18), .tvOS(.v18), .watchOS(.v11), .visionOS(.v2)],
    products: [
        .library(name: "DeferDrop", targets: ["DeferDrop"]),
        .library(name: "ShardedDrop", targets: ["ShardedDrop"]),
        .executable(name: "demo", targets: ["Demo"]),
        // A time-bounded randomized check of every guarantee: `swift run -c release soak --seconds 60`.
        .executable(name: "soak", targets: ["Soak"]),
    ],
    traits: [
        .trait(
            name: "Jemalloc",
            description: """
                Link jemalloc (libjemalloc-dev on Debian and Ubuntu, jemalloc from Homebrew), \
                which then allocates for the whole process, for exact per-worker reclaimed \
                bytes and allocator statistics.
                """
        ),
        .trait(
            name: "Metrics",
            description: """
                Report every worker's counters, pending values, reclaimed bytes and batch \
                durations to a swift-metrics `MetricsFactory` (swift-metrics 2.13).
                """
        ),
        .trait(
            name: "ServiceLifecycle",
            description: """
                Make `DropWorker` and `ShardedDropPool` services that run in a swift-service-lifecycle \
                `ServiceGroup` and drain on its graceful shutdown (swift-service-lifecycle 2.13).
                """
        ),
        // No default traits: without them, building needs nothing but the toolchain.
    ],
    dependencies: [
        // Used only by targets that name them under a trait condition: a build
        // without the trait builds neither.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // For the tests' `ServiceGroup` logger only.
        .package(url: "https://github.com/apple/swift-log", from: "1.14.0"),
    ],
    targets: [
        .target(
            name: "DeferDrop",
            dependencies: [
                "_DeferDropShims",
                .target(name: "CJemalloc", condition: .when(traits: ["Jemalloc"])),
                .product(name: "CoreMetrics", package: "swift-metrics", condition: .when(traits: ["Metrics"])),
                .product(
                    name: "ServiceLifecycle", package: "swift-service-lifecycle",
                    condition: .when(traits: ["ServiceLifecycle"])),
            ],
            swiftSettings: strictSettings
        ),
        // jemalloc as a system library, linked only with the `Jemalloc` trait.
        .systemLibrary(
            name: "CJemalloc",
            pkgConfig: "jemalloc",
            providers: [.apt(["libjemalloc-dev"]), .brew(["jemalloc"])]
        ),
        // Opt-in: a pool of drop workers, each producer thread pinned to one.
        .target(
            name: "ShardedDrop",
            dependencies: [
                "DeferDrop", "_DeferDropShims",
                .product(name: "CoreMetrics", package: "swift-metrics", condition: .when(traits: ["Metrics"])),
                .product(
                    name: "ServiceLifecycle", package: "swift-service-lifecycle",
                    condition: .when(traits: ["ServiceLifecycle"])),
            ],
            swiftSettings: strictSettings
        ),
        // The platform layer: the only code that knows the system (Linux,
        // Darwin, or POSIX only with `-Xcc -DDEFERDROP_POSIX_ONLY`), the
        // thread-locals a hand-off reads, and the lanes. Internal.
        .target(name: "_DeferDropShims"),
        .executableTarget(
            name: "Demo",
            dependencies: ["DeferDrop", "ShardedDrop"],
            swiftSettings: strictSettings
        ),
        .executableTarget(
            name: "Soak",
            dependencies: ["DeferDrop", "ShardedDrop", "DeferDropTestSupport"],
            swiftSettings: strictSettings
        ),
        // C helpers only the tests and the soak use (fork, thread names,
        // scheduling getters), kept out of the shipped library.
        .target(
            name: "_DeferDropTestShims",
            dependencies: ["_DeferDropShims"],
            path: "Tests/_DeferDropTestShims"
        ),
        // Probes, threads and fork children shared by the test targets and the soak.
        .target(
            name: "DeferDropTestSupport",
            dependencies: ["DeferDrop", "_DeferDropShims", "_DeferDropTestShims"],
            path: "Tests/DeferDropTestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "DeferDropTests",
            dependencies: ["DeferDrop", "DeferDropTestSupport"] + traitTestDependencies,
            swiftSettings: strictSettings
        ),
        .testTarget(
            name: "ShardedDropTests",
            dependencies: ["ShardedDrop", "DeferDrop", "DeferDropTestSupport"] + traitTestDependencies,
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
