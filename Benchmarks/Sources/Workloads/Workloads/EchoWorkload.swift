import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// echo: a TCP echo server on 127.0.0.1 and a load generator (`EchoLoadGenerator`), each in a
/// process of its own, started from this (child) process, which samples the server from outside:
///
/// 1. starts the server and reads its port from its `listening on 127.0.0.1:PORT` line;
/// 2. samples the server's RSS (`/proc/PID/status` VmRSS), starts the generator and waits until it
///    says that every connection is open and has echoed a warm-up message, then samples the RSS
///    again: `server_bytes_per_connection` = (RSS connected − RSS before) / connections;
/// 3. samples the server's CPU (utime + stime of `/proc/PID/stat`), tells the generator to go,
///    reads its report, samples the CPU again: `server_cpu_ms_per_1k` = CPU ms / (round trips / 1,000);
/// 4. stops the server with SIGINT and waits for it.
///
/// A server of one loop runs pinned to CPU 1 and the generator to CPU 0 (when the machine has two
/// CPUs or more), so that neither takes the other's CPU; a server of one loop per core is left
/// unpinned, and so is the generator then: pinning N loops to the CPUs the generator also needs
/// would only decide which of them loses, which the scheduler does better.
enum EchoWorkload {
    /// How long the server may take to say where it listens, and to exit after SIGINT.
    static let serverGrace: Int64 = 10 * .nanosecondsPerSecond

    static func run(_ server: EchoServerImplementation, parameters: WorkloadParameters) throws -> WorkloadResult {
        let connections = parameters.count(.echo)
        var result = WorkloadResult(workload: .echo, impl: server.name, n: connections)
        #if os(Linux)
        let command: (executable: String, arguments: [String])
        switch server.command() {
        case .success(let found): command = found
        case .failure(let error):
            result.errors.append(error.description)
            return result
        }
        let pinned = server.loops == 1 && System.coreCount >= 2

        // 1. The server.
        let serverProcess = Process()
        serverProcess.executableURL = URL(fileURLWithPath: command.executable)
        serverProcess.arguments = command.arguments
        let serverOutput = Pipe()
        serverProcess.standardOutput = serverOutput
        try CPUAffinity.withThread(pinnedTo: pinned ? 1 : nil) { try serverProcess.run() }
        let serverLines = LineReader(serverOutput.fileHandleForReading.fileDescriptor)
        measure(server, serverProcess, serverLines, command: command, pinned: pinned, parameters: parameters, into: &result)
        stop(serverProcess, lines: serverLines, into: &result)
        #else
        result.errors.append("the echo workload reads /proc and waits in epoll: Linux only")
        #endif
        return result
    }

    #if os(Linux)
    /// Steps 1 (once the server runs) to 3.
    private static func measure(
        _ server: EchoServerImplementation,
        _ serverProcess: Process,
        _ serverLines: LineReader,
        command: (executable: String, arguments: [String]),
        pinned: Bool,
        parameters: WorkloadParameters,
        into result: inout WorkloadResult
    ) {
        let connections = result.n
        let pid = serverProcess.processIdentifier
        let listening = serverLines.next(before: MonotonicClock.now() + serverGrace) { $0.contains("listening on ") }
        guard let listening, let port = port(in: listening) else {
            result.errors.append("the server did not say where it listens: \(command.executable) \(command.arguments.joined(separator: " "))")
            return
        }

        // 2. The generator, and the server's memory with every connection open.
        guard let idle = ProcessSample.current(of: pid) else {
            result.errors.append("the server (pid \(pid)) exited after it started listening")
            return
        }
        let generator = Process()
        generator.executableURL = URL(fileURLWithPath: ChildProcess.executablePath())
        generator.arguments = [
            "--echo-client", "--port", String(port), "--connections", String(connections),
            "--round-trips", String(parameters.echoRoundTrips), "--size", String(parameters.echoSize),
        ]
        let generatorInput = Pipe()
        let generatorOutput = Pipe()
        generator.standardInput = generatorInput
        generator.standardOutput = generatorOutput
        do {
            try CPUAffinity.withThread(pinnedTo: pinned ? 0 : nil) { try generator.run() }
        } catch {
            result.errors.append("could not start the load generator: \(error)")
            return
        }
        defer { generator.waitUntilExit() }
        let generatorLines = LineReader(generatorOutput.fileHandleForReading.fileDescriptor)
        let limit = 150 * Int64.nanosecondsPerSecond  // the generator's own limit is 120 s per part
        guard let connectedLine = generatorLines.next(before: MonotonicClock.now() + limit, where: { $0.hasPrefix("connected ") }),
            let connected = ProcessSample.current(of: pid)
        else {
            result.errors.append("the load generator or the server ended before every connection was open")
            generator.terminate()
            return
        }
        let placement =
            pinned
            ? "server pinned to CPU \(CPUAffinity.allowedList(of: pid) ?? "?"), generator to CPU "
                + (CPUAffinity.allowedList(of: generator.processIdentifier) ?? "?")
            : "unpinned (\(server.loops) loops on \(System.coreCount) CPUs)"

        // 3. The timed round trips.
        guard let before = ProcessSample.current(of: pid) else {
            result.errors.append("the server exited with every connection open")
            generator.terminate()
            return
        }
        generatorInput.fileHandleForWriting.write(Data("go\n".utf8))
        let reportLine = generatorLines.next(before: MonotonicClock.now() + limit) { $0.hasPrefix(EchoLoadReport.marker) }
        let after = ProcessSample.current(of: pid)
        guard let reportLine,
            let report = try? JSONDecoder().decode(
                EchoLoadReport.self,
                from: Data(reportLine.dropFirst(EchoLoadReport.marker.count).utf8)
            )
        else {
            result.errors.append("the load generator ended without a report")
            generator.terminate()
            return
        }
        guard let after else {
            result.errors.append("the server exited during the round trips")
            return
        }

        let cpuMilliseconds = Double(after.cpuNanoseconds - before.cpuNanoseconds) / 1e6
        result.set("round_trips_per_s", Double(report.roundTrips) / max(report.seconds, 1e-9), decimals: 0)
        result.set("latency_us_p50", report.latencyMicrosecondsP50)
        result.set("latency_us_p99", report.latencyMicrosecondsP99)
        result.set("server_cpu_ms_per_1k", cpuMilliseconds / max(Double(report.roundTrips) / 1_000, 1e-9), decimals: 2)
        result.set(
            "server_bytes_per_connection",
            Double(connected.residentBytes - idle.residentBytes) / Double(max(report.connected, 1)),
            decimals: 0
        )
        result.set("errors", report.errors)
        if report.errors != 0 { result.errors.append("\(report.errors) errors: \(report.errorSummary)") }
        result.notes.append(
            "\(report.connected) of \(connections) connections × \(report.roundTripsPerConnection) round trips of "
                + "\(report.size) B in \(JSONLine.number(report.seconds, decimals: 3)) s; latency max "
                + "\(JSONLine.number(report.latencyMicrosecondsMax, decimals: 0)) µs; \(connectedLine) "
                + "(with one warm-up echo each)"
        )
        result.notes.append(
            "\(placement); server CPU \(JSONLine.number(cpuMilliseconds, decimals: 0)) ms, generator "
                + "CPU \(JSONLine.number(report.cpuFraction * 100, decimals: 0)) % of a core; server RSS "
                + "\(idle.residentBytes / 1_024) KiB idle, \(connected.residentBytes / 1_024) KiB connected"
        )
    }
    #endif

    /// The port of a `... listening on HOST:PORT[, ...]` line.
    static func port(in line: String) -> UInt16? {
        guard let range = line.range(of: "listening on ") else { return nil }
        let address = line[range.upperBound...].prefix { $0 != "," && $0 != " " }
        guard let colon = address.lastIndex(of: ":") else { return nil }
        return UInt16(address[address.index(after: colon)...])
    }

    /// SIGINT, then waits up to `serverGrace` (SIGKILL and an error after that); notes the
    /// project server's final line of counters.
    private static func stop(_ server: Process, lines: LineReader, into result: inout WorkloadResult) {
        let pid = server.processIdentifier
        if server.isRunning { kill(pid, SIGINT) }
        let deadline = MonotonicClock.now() + serverGrace
        while server.isRunning && MonotonicClock.now() < deadline {
            MonotonicClock.sleep(until: MonotonicClock.now() + 10 * .nanosecondsPerMillisecond)
        }
        if server.isRunning {
            kill(pid, SIGKILL)
            result.errors.append("the server did not exit within \(serverGrace / .nanosecondsPerSecond) s of SIGINT")
        }
        server.waitUntilExit()
        let output = lines.rest(before: MonotonicClock.now() + serverGrace)
        if let counters = output.last(where: { $0.hasPrefix("open ") }) {
            result.notes.append("server at exit: \(counters)")
        }
        if server.terminationReason == .uncaughtSignal || server.terminationStatus != 0 {
            result.errors.append("the server ended with status \(server.terminationStatus) (\(server.terminationReason))")
        }
    }
}
