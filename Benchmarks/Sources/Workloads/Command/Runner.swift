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
    var parameters: WorkloadParameters
    var jsonOnly: Bool

    func run() -> Report {
        var report = Report()
        for workload in workloads {
            for implementation in implementations where implementation.workloads.contains(workload) {
                let result = ChildProcess.launch(workload, implementation.name, parameters: parameters)
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
