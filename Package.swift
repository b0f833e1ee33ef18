// swift-tools-version: 6.2
import PackageDescription

let upcoming: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

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
    ],
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
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: upcoming + [.define("KQ_INTERNAL_CHECKS", .when(configuration: .debug))]
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
        .testTarget(
            name: "KQueueTests",
            dependencies: ["KQueue", "CKQueueShims", .product(name: "SystemPackage", package: "swift-system")],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "KQueueTimersTests",
            dependencies: ["KQueueTimers", "KQueue"],
            swiftSettings: upcoming
        ),
        .testTarget(
            name: "kqtimerTests",
            dependencies: ["kqtimer", "KQueueTimers", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: upcoming
        ),
    ],
    swiftLanguageModes: [.v6]
)
