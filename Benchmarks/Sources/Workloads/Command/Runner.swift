import Foundation

/// The parent process: runs each selected (workload, impl) pair in a child, streams the JSON
/// lines, prints every error loudly, then the tables.
struct Runner {
    struct Report {
        var results: [WorkloadResult] = []
        var errors: [String] = []
    }

    var workloads: [WorkloadName]
    var implementations: [any TimerImplementation.Type]
    /// echo's implementations, which are servers rather than timer implementations.
    var echoServers: [EchoServerImplementation]
    var parameters: WorkloadParameters
    var jsonOnly: Bool

    func run() -> Report {
        var report = Report()
        for workload in workloads {
            let names =
                workload == .echo
                ? echoServers.map(\.name)
                : implementations.filter { $0.workloads.contains(workload) }.map { $0.name }
            for name in names {
                let result = ChildProcess.launch(workload, name, parameters: parameters)
                print(JSONLine.format(result))
                for error in result.errors {
                    let line = "ERROR \(workload.rawValue)/\(result.impl): \(error)"
                    printToStandardError(line)
                    report.errors.append(line)
                }
                fflush(nil)
                report.results.append(result)
            }
        }
        if !jsonOnly {
            for workload in workloads {
                let rows = report.results.filter { $0.workload == workload }
                if !rows.isEmpty { print("\n" + ResultTable(workload: workload, results: rows).render()) }
            }
            if !report.errors.isEmpty {
                print("\n\(report.errors.count) ERROR(S):")
                for error in report.errors { print("  " + error) }
            }
        }
        return report
    }
}

func printToStandardError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
