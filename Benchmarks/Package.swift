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
import PackageDescription

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
    "CLibev",
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
    .product(name: "Histogram", package: "hdrhistogram-swift"),
    .product(name: "ArgumentParser", package: "swift-argument-parser"),
]
var workloadSettings = upcoming
var packageDependencies: [Package.Dependency] = [
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
]
var targets: [Target] = [
    // libev, from Debian's libev-dev (`apt-get install libev-dev`); a peer only, never used by the project.
    .systemLibrary(
        name: "CLibev",
        path: "Sources/CLibev",
        providers: [.apt(["libev-dev"])]
    )
]

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
