import ArgumentParser
import KQueue
import SystemPackage

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `kqtimer echo-client`: opens many connections to an echo server, checks every echo and
/// waits for the server's idle timeouts.
package struct EchoClientCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "echo-client",
        abstract: "Load an echo server: N connections, M checked echoes each, then wait for idle closes.",
        discussion: """
            With --idle-timeout, every connection stays open after its echoes until the server \
            closes it; a close sooner than the timeout counts as early. Exits with status 1 if a \
            connection was lost, an echo differed, a close came early, or a connection was not \
            closed in time. Raises the soft limit on open files to the hard limit.
            """
    )

    @Option(help: "The server's address: a host name, an IPv4 or an IPv6 address.")
    package var host = "127.0.0.1"

    @Option(help: "The server's port.")
    package var port: UInt16 = 7777

    @Option(help: "Connections to open (1 to 1000000).")
    package var connections = 100

    @Option(help: "Messages per connection, each echoed before the next is sent (0 to 1000000).")
    package var echoes = 10

    @Option(help: "Bytes per message (1 to 65536).")
    package var messageSize = 64

    @Option(
        help: "The server's idle timeout: wait for the server to close each connection, and check it did not close early (at most 24h).",
        transform: DurationArgument.parse
    )
    package var idleTimeout: DurationArgument?

    @Option(help: "Connects in progress at once (1 to 100000).")
    package var connectWindow = 256

    @Option(
        help: "Retry a refused connect until this long after the start, e.g. while the server starts (at most 24h). (default: 5s)",
        transform: DurationArgument.parse
    )
    package var connectRetry = DurationArgument(duration: .seconds(5))

    @Option(help: "Give up after this long (at most 24h). (default: 120s)", transform: DurationArgument.parse)
    package var limit = DurationArgument(duration: .seconds(120))

    @Option(help: "The server's pid, to report its resident memory when every connection is open.")
    package var serverPid: Int32?

    package init() {}

    package func validate() throws {
        try checkCount("--connections", connections, in: 1...1_000_000)
        try checkCount("--echoes", echoes, in: 0...1_000_000)
        try checkCount("--message-size", messageSize, in: 1...65536)
        try checkCount("--connect-window", connectWindow, in: 1...100_000)
        try idleTimeout?.check("--idle-timeout", in: .nanoseconds(1)...longestDuration)
        try connectRetry.check("--connect-retry", in: .zero...longestDuration)
        try limit.check("--limit", in: .nanoseconds(1)...longestDuration)
    }

    package var clientConfiguration: EchoClient.Configuration {
        var configuration = EchoClient.Configuration()
        configuration.host = host
        configuration.port = port
        configuration.connections = connections
        configuration.echoes = echoes
        configuration.messageSize = messageSize
        configuration.idleTimeout = idleTimeout?.duration
        configuration.connectWindow = connectWindow
        configuration.connectRetry = connectRetry.duration
        configuration.limit = limit.duration
        configuration.serverPID = serverPid
        return configuration
    }

    package func run() throws {
        ProcessResources.raiseDescriptorLimit()
        let report: EchoClient.Report
        do {
            report = try EchoClient(clientConfiguration).run()
        } catch {
            printError("Error: \(error)")
            throw ExitCode.failure
        }
        for line in Self.lines(report, idleTimeout: idleTimeout?.duration) { print(line) }
        if !report.isClean(expectingIdleCloses: idleTimeout != nil) { throw ExitCode(1) }
    }

    static func lines(_ report: EchoClient.Report, idleTimeout: Duration?) -> [String] {
        var lines = [
            "connections: \(report.connected) connected, \(report.failedConnects) failed "
                + "(refused \(report.refused), timed out \(report.connectTimedOut), reset \(report.connectReset)), "
                + "\(report.retries) refused connects retried, peak \(report.peakOpen) open at once",
            "echoes: \(report.echoes) in \(String(format3: report.echoSeconds)) s = \(Int(report.echoesPerSecond.rounded())) echoes/s, "
                + "\(report.bytesVerified) bytes verified, \(report.mismatches) mismatches",
        ]
        if let idleTimeout {
            lines.append(
                "idle timeouts: \(report.idleCloses) observed, \(report.earlyCloses) early, "
                    + "closed \(String(format3: report.idleCloseMinMs))...\(String(format3: report.idleCloseMaxMs)) ms "
                    + "after the last message (timeout \(DurationArgument(duration: idleTimeout)))")
        }
        var lost = "lost: \(report.lost) (reset by the server \(report.reset), closed by the server before its echoes "
            + "\(report.closedByServer), failed connects \(report.failedConnects)"
        if report.otherFailures > 0 {
            lost += ", other errors \(report.otherFailures), the last: \(report.lastOtherError.map { "\($0)" } ?? "?")"
        }
        lines.append(lost + "), unfinished when --limit passed: \(report.unfinished)")
        if let bytes = report.serverResidentBytes {
            lines.append("server RSS with every connection open: \(megabytes(bytes))")
        }
        return lines
    }
}
