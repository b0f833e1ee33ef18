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
        .executable(name: "kqtimer", targets: ["kqtimer"]),
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
        .target(
            name: "KQueue",
            dependencies: [
                "CKQueueShims",
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            swiftSettings: upcoming
        ),
        .executableTarget(
            name: "kqtimer",
            dependencies: [
                "KQueue",
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
    ],
    swiftLanguageModes: [.v6]
)
