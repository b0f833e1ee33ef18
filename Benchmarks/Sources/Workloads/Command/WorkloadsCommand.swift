import ArgumentParser

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
        abstract: "Timer workloads of Benchmarks/README.md, the project against its peers.",
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

    func validate() throws {
        _ = try selectedWorkloads()
        _ = try selectedImplementations()
        if let count, count <= 0 { throw ValidationError("--n must be positive") }
    }

    func run() throws {
        let parameters = WorkloadParameters(quick: quick, countOverride: count)
        if let child {
            ChildProcess.run(child, parameters: parameters)
        }
        if implementationArguments.isEmpty {
            for skipped in Implementations.skipped {
                printToStandardError("note: \(skipped.name) skipped: \(skipped.reason)")
            }
        }
        let report = Runner(
            workloads: try selectedWorkloads(),
            implementations: try selectedImplementations(),
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
        for name in names where Implementations.named(name) == nil {
            if let skipped = Implementations.skipped.first(where: { $0.name == name }) {
                throw ValidationError("'\(name)' is not in this build: \(skipped.reason)")
            }
            throw ValidationError(
                "unknown implementation '\(name)'; known: \(Implementations.all.map { $0.name }.joined(separator: ", "))"
            )
        }
        return Implementations.all.filter { names.contains($0.name) }
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
