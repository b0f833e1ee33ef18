import Foundation

/// One (workload, impl) pair runs in a process of its own, so that RSS, CPU time and context
/// switches belong to that pair alone. The parent starts this executable again with `--child
/// workload:impl`; the child prints one line, `marker` + the `WorkloadResult` as JSON, and exits.
enum ChildProcess {
    static let marker = "@@workload-result "

    /// In the parent: runs the pair in a child and returns what it reported.
    static func launch(
        _ workload: WorkloadName,
        _ implementation: String,
        parameters: WorkloadParameters
    ) -> WorkloadResult {
        var failed = WorkloadResult(workload: workload, impl: implementation, n: parameters.count(workload))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executablePath())
        process.arguments = ["--child", "\(workload.rawValue):\(implementation)"] + parameters.arguments
        let output = Pipe()
        process.standardOutput = output
        do {
            try process.run()
        } catch {
            failed.errors.append("could not start the child process: \(error)")
            return failed
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard let line = text.split(separator: "\n").last(where: { $0.hasPrefix(marker) }) else {
            failed.errors.append("the child process ended (status \(process.terminationStatus)) without a result")
            return failed
        }
        do {
            return try JSONDecoder().decode(WorkloadResult.self, from: Data(line.dropFirst(marker.count).utf8))
        } catch {
            failed.errors.append("unreadable result from the child process: \(error)")
            return failed
        }
    }

    /// In the child: runs the pair named `workload:impl`, prints the result line and exits.
    static func run(_ pair: String, parameters: WorkloadParameters) -> Never {
        let parts = pair.split(separator: ":").map(String.init)
        guard parts.count == 2, let workload = WorkloadName(rawValue: parts[0]) else { badPair(pair) }
        var result: WorkloadResult
        do {
            guard let found = try WorkloadRun.run(workload, implementationNamed: parts[1], parameters: parameters)
            else { badPair(pair) }
            result = found
        } catch {
            result = WorkloadResult(workload: workload, impl: parts[1], n: parameters.count(workload))
            result.errors.append("failed: \(error)")
        }
        let encoder = JSONEncoder()
        let json = (try? encoder.encode(result)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        print(marker + json)
        fflush(nil)
        exit(0)
    }

    private static func badPair(_ pair: String) -> Never {
        FileHandle.standardError.write(Data("workloads: bad --child '\(pair)'\n".utf8))
        exit(2)
    }

    /// This executable, for starting it again: as a child, and as the echo workload's NIO server
    /// and load generator.
    static func executablePath() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if length > 0 {
            return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return CommandLine.arguments[0]
    }
}
