// swift-tools-version: 6.1
//
// The benchmark harness of kqtimer: a separate package so that SwiftNIO, libev and
// ordo-one/benchmark never become dependencies of the library itself.
//
//   swift run -c release --package-path Benchmarks workloads --quick
//   swift package --disable-sandbox --package-path Benchmarks benchmark
//
// `KQ_BENCH_PEERS_ONLY=1` builds the `workloads` runner without the project's products
// (only the peers: dispatch, nio, concurrency, libev), for when the root package does not build.
//
// libev is a peer from the system (Debian: `apt-get install libev-dev`). Without its header the
// runner is built without the `libev` implementation and says so when it runs; `KQ_BENCH_NO_LIBEV=1`
// leaves libev out even where it is installed.
import Foundation
import PackageDescription

let libevDisabled = Context.environment["KQ_BENCH_NO_LIBEV"] != nil
let libevFound = ["/usr/include", "/usr/local/include", "/opt/homebrew/include"].contains {
    FileManager.default.fileExists(atPath: $0 + "/ev.h")
}
let withLibev = libevFound && !libevDisabled

let peersOnly = Context.environment["KQ_BENCH_PEERS_ONLY"] != nil

// A `.package(path:)` dependency is known by the name of its folder, which differs between clones
// (`main`, a CI checkout, ...), so derive it from where this manifest lives.
let project = String(Context.packageDirectory.split(separator: "/").dropLast().last ?? "main").lowercased()

// The project's products: KQueue (the `kqueue` implementation, KQueueBenchmarks) and KQueueTimers
// (for the `scheduler` and `wheel` implementations and their micro-benchmarks).
let projectProducts: [Target.Dependency] = [
    .product(name: "KQueue", package: project),
    .product(name: "KQueueTimers", package: project),
]

let upcoming: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

var workloadDependencies: [Target.Dependency] = [
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
    .product(name: "Histogram", package: "hdrhistogram-swift"),
    .product(name: "ArgumentParser", package: "swift-argument-parser"),
    "CBenchmarkShims",
]
var workloadSettings = upcoming
// Why the runner has no `libev`, for its message (see Implementations.skipped).
workloadSettings.append(.define(withLibev ? "KQ_BENCH_LIBEV" : libevDisabled ? "KQ_BENCH_LIBEV_DISABLED" : "KQ_BENCH_LIBEV_MISSING"))
var packageDependencies: [Package.Dependency] = [
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
]
var targets: [Target] = [
    // epoll and CPU affinity for the echo workload's load generator and its pinning (Linux only).
    .target(
        name: "CBenchmarkShims",
        path: "Sources/CBenchmarkShims",
        cSettings: [.define("_GNU_SOURCE")]
    )
]
if withLibev {
    workloadDependencies.append("CLibev")
    // libev, from Debian's libev-dev (`apt-get install libev-dev`); a peer only, never used by the project.
    targets.append(
        .systemLibrary(
            name: "CLibev",
            path: "Sources/CLibev",
            providers: [.apt(["libev-dev"])]
        )
    )
}

if !peersOnly {
    packageDependencies += [
        .package(path: ".."),
        // Its default traits need ordo-one/swift-runtime-interposer, which is not available here.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ]
    workloadDependencies += projectProducts
    // Compiles the project's implementations (kqueue, scheduler, wheel) into the runner.
    workloadSettings.append(.define("KQ_BENCH_PROJECT"))
    targets.append(
        .executableTarget(
            name: "KQueueBenchmarks",
            dependencies: [.product(name: "Benchmark", package: "benchmark")] + projectProducts,
            path: "Benchmarks/KQueueBenchmarks",
            swiftSettings: upcoming,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    )
    // TimerWheel and TimerScheduler: schedule + cancel, advance (fire), with malloc counts.
    targets.append(
        .executableTarget(
            name: "KQueueTimersBenchmarks",
            dependencies: [.product(name: "Benchmark", package: "benchmark")] + projectProducts,
            path: "Benchmarks/KQueueTimersBenchmarks",
            swiftSettings: upcoming,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    )
}

targets.append(
    .executableTarget(
        name: "workloads",
        dependencies: workloadDependencies,
        path: "Sources/Workloads",
        swiftSettings: workloadSettings
    )
)

let package = Package(
    name: "kqtimer-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: packageDependencies,
    targets: targets,
    swiftLanguageModes: [.v6]
)
