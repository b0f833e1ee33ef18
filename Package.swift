// swift-tools-version: 6.2
import PackageDescription

let upcoming: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

// `KQ_DOCS=1` adds swift-docc-plugin, for building the API documentation (README: "API
// documentation"); a package that depends on this one never resolves or builds it.
let documentation: [Package.Dependency] =
    Context.environment["KQ_DOCS"] != nil
    ? [.package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0")] : []

let package = Package(
    name: "kqtimer",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "KQueue", targets: ["KQueue"]),
        .library(name: "KQueueTimers", targets: ["KQueueTimers"]),
        .executable(name: "kqtimer", targets: ["kqtimer"]),
    ],
    traits: [
        .trait(
            name: "ExperimentalExecutors",
            description: """
                KQueueLoop adopts Swift 6.3's experimental SchedulingExecutor (a plain Task.sleep \
                on a task on the loop runs on its wheel) and can become the process's global \
                executor. Built on unstable @_spi interfaces of the Swift runtime.
                """
        ),
        .trait(
            name: "Libkqueue",
            description: """
                Build the native kevent(2) path on Linux against libkqueue (found through \
                pkg-config) instead of the emulation, to type-check it and compare the two.
                """
        )
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ] + documentation,
    targets: [
        .target(
            name: "CKQueueShims",
            cSettings: [.define("_GNU_SOURCE")]
        ),
        .systemLibrary(name: "CLibkqueue", pkgConfig: "libkqueue"),
        .target(
            name: "KQueue",
            dependencies: [
                "CKQueueShims",
                .target(name: "CLibkqueue", condition: .when(traits: ["Libkqueue"])),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: upcoming + [
                .define("KQUEUE_LIBKQUEUE", .when(traits: ["Libkqueue"])),
                .define("KQ_INTERNAL_CHECKS", .when(configuration: .debug)),
            ]
        ),
        .target(
            name: "KQueueTimers",
            dependencies: [
                "KQueue",
                .target(name: "CKQueueShims", condition: .when(platforms: [.linux])),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: upcoming + [
                .define("KQ_INTERNAL_CHECKS", .when(configuration: .debug)),
                .define("KQ_EXPERIMENTAL_EXECUTORS", .when(traits: ["ExperimentalExecutors"])),
            ]
        ),
        .executableTarget(
            name: "kqtimer",
            dependencies: [
                "KQueue",
                "KQueueTimers",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: upcoming
        ),
        // Helpers the test targets share: a child process that holds none of their descriptors,
        // and the `.blocking` trait that runs tests which block off the cooperative pool.
        .target(
            name: "TestSupport",
            dependencies: ["CKQueueShims", .product(name: "SystemPackage", package: "swift-system")],
            path: "Tests/TestSupport",
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "KQueueTests",
            dependencies: ["KQueue", "CKQueueShims", "TestSupport", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: upcoming
        ),
        // A program that installs a loop as the global executor: run by KQueueTimersTests in a
        // process of its own.
        .executableTarget(
            name: "GlobalExecutorCheck",
            dependencies: ["KQueueTimers"],
            path: "Tests/GlobalExecutorCheck",
            swiftSettings: upcoming + [.define("KQ_EXPERIMENTAL_EXECUTORS", .when(traits: ["ExperimentalExecutors"]))]
        ),
        .testTarget(
            name: "KQueueTimersTests",
            dependencies: ["KQueueTimers", "KQueue", "TestSupport", "GlobalExecutorCheck"],
            swiftSettings: upcoming + [.define("KQ_EXPERIMENTAL_EXECUTORS", .when(traits: ["ExperimentalExecutors"]))]
        ),
        .testTarget(
            name: "kqtimerTests",
            dependencies: ["kqtimer", "KQueue", "KQueueTimers", "TestSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: upcoming
        ),
    ],
    swiftLanguageModes: [.v6]
)
