import ArgumentParser
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `swift run -c release --package-path Benchmarks workloads [options]`
///
/// Runs every workload of Benchmarks/README.md for every implementation that supports it, each pair
/// in its own child process (this executable again, with the hidden `--child`), prints one JSON line
/// per pair, then a table per workload. Exits non-zero if any implementation fired early or lost a timer.
@main
struct WorkloadsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workloads",
        abstract: "The workloads of Benchmarks/README.md, the project against its peers.",
        discussion: WorkloadName.allCases.map { "\($0.rawValue): \($0.summary)" }.joined(separator: "\n")
    )

    @Option(name: .customLong("workload"), help: "Workloads to run (repeatable or comma-separated; default: all).")
    var workloadArguments: [String] = []

    @Option(name: .customLong("impl"), help: "Implementations to run (repeatable or comma-separated; default: all).")
    var implementationArguments: [String] = []

    @Option(name: .customLong("n"), help: "Replaces the main count of every selected workload.")
    var count: Int?

    @Flag(help: "Scale counts and durations down so that a full run takes well under a minute.")
    var quick = false

    @Flag(name: .customLong("json-only"), help: "Print only the JSON lines (errors still go to stderr).")
    var jsonOnly = false

    @Option(name: .customLong("plot"), help: "Write an SVG of the precision and fleet lateness distributions.")
    var plotPath: String?

    @Option(name: .customLong("child"), help: .hidden)
    var child: String?

    @Option(
        name: .customLong("echo-server"),
        help: "Run SwiftNIO's echo server of the echo workload (nio or nio-mt) until SIGINT or SIGTERM."
    )
    var echoServer: String?

    @Flag(name: .customLong("echo-client"), help: "Run the echo workload's load generator against --port.")
    var echoClient = false

    @Option(help: "echo: the port on 127.0.0.1 to listen on (--echo-server; 0: any) or to connect to (--echo-client).")
    var port: Int?

    @Option(help: "--echo-client: connections to open.")
    var connections = 1_000

    @Option(name: .customLong("round-trips"), help: "--echo-client: round trips per connection, one at a time.")
    var roundTrips = 100

    @Option(help: "--echo-client: bytes per message.")
    var size = 64

    func validate() throws {
        if let echoServer, echoServer != EchoServerImplementation.nio.name, echoServer != EchoServerImplementation.nioPerCore.name {
            throw ValidationError("--echo-server runs nio or nio-mt; the project's servers are `kqtimer echo-server`")
        }
        if echoServer != nil || echoClient {
            guard let port, (echoServer != nil ? 0 : 1)...65_535 ~= port else {
                throw ValidationError(echoClient ? "--echo-client needs --port 1...65535" : "--port must be 0...65535")
            }
            if connections <= 0 || roundTrips <= 0 || size <= 0 {
                throw ValidationError("--connections, --round-trips and --size must be positive")
            }
        }
        _ = try selectedWorkloads()
        _ = try selectedImplementations()
        if let count, count <= 0 { throw ValidationError("--n must be positive") }
    }

    func run() throws {
        let parameters = WorkloadParameters(quick: quick, countOverride: count)
        if let child {
            ChildProcess.run(child, parameters: parameters)
        }
        if let echoServer {
            try NIOEchoServer.run(threads: echoServer == EchoServerImplementation.nio.name ? 1 : System.coreCount, port: port ?? 0)
        }
        if echoClient {
            #if os(Linux)
            let configuration = EchoLoadGenerator.Configuration(
                port: UInt16(port ?? 0),
                connections: connections,
                roundTrips: roundTrips,
                size: size
            )
            try EchoLoadGenerator(configuration).run()
            #else
            throw ValidationError("--echo-client waits in epoll: Linux only")
            #endif
        }
        if implementationArguments.isEmpty {
            for skipped in Implementations.skipped {
                printToStandardError("note: \(skipped.name) skipped: \(skipped.reason)")
            }
        }
        let report = Runner(
            workloads: try selectedWorkloads(),
            implementations: try selectedImplementations(),
            echoServers: try selectedEchoServers(),
            parameters: parameters,
            jsonOnly: jsonOnly
        ).run()
        if let plotPath {
            try LatencyPlot(results: report.results).write(to: plotPath)
            if !jsonOnly { print("plot written to \(plotPath)") }
        }
        if !report.errors.isEmpty { throw ExitCode(1) }
    }

    private func selectedWorkloads() throws -> [WorkloadName] {
        let names = Self.split(workloadArguments)
        if names.isEmpty { return WorkloadName.allCases }
        for name in names where WorkloadName(rawValue: name) == nil {
            throw ValidationError(
                "unknown workload '\(name)'; known: \(WorkloadName.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        return WorkloadName.allCases.filter { names.contains($0.rawValue) }
    }

    private func selectedImplementations() throws -> [any TimerImplementation.Type] {
        let names = Self.split(implementationArguments)
        if names.isEmpty { return Implementations.all }
        let echoNames = EchoServerImplementation.allCases.map(\.name)
        for name in names where Implementations.named(name) == nil && !echoNames.contains(name) {
            if let skipped = Implementations.skipped.first(where: { $0.name == name }) {
                throw ValidationError("'\(name)' is not in this build: \(skipped.reason)")
            }
            let known = Implementations.all.map { $0.name } + echoNames.filter { Implementations.named($0) == nil }
            throw ValidationError("unknown implementation '\(name)'; known: \(known.joined(separator: ", "))")
        }
        return Implementations.all.filter { names.contains($0.name) }
    }

    /// echo's servers among `--impl` (all without it).
    private func selectedEchoServers() throws -> [EchoServerImplementation] {
        let names = Self.split(implementationArguments)
        return EchoServerImplementation.allCases.filter { names.isEmpty || names.contains($0.name) }
    }

    private static func split(_ arguments: [String]) -> [String] {
        arguments.flatMap { $0.split(separator: ",") }.map { String($0).trimmingWhitespace() }.filter { !$0.isEmpty }
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
