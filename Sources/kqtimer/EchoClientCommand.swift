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

    @Option(help: "The server's address.")
    package var host = "127.0.0.1"

    @Option(help: "The server's port.")
    package var port: UInt16 = 7777

    @Option(help: "Connections to open.")
    package var connections = 100

    @Option(help: "Messages per connection, each echoed before the next is sent.")
    package var echoes = 10

    @Option(help: "Bytes per message.")
    package var messageSize = 64

    @Option(help: "The server's idle timeout: wait for the server to close each connection, and check it did not close early.")
    package var idleTimeout: DurationArgument?

    @Option(help: "Connects in progress at once.")
    package var connectWindow = 256

    @Option(help: "Give up after this long.")
    package var limit = DurationArgument(duration: .seconds(120))

    @Option(help: "The server's pid, to report its resident memory when every connection is open.")
    package var serverPid: Int32?

    package init() {}

    package func validate() throws {
        guard connections >= 1 else { throw ValidationError("--connections must be at least 1.") }
        guard echoes >= 0 else { throw ValidationError("--echoes must not be negative.") }
        guard messageSize >= 1, messageSize <= 65536 else { throw ValidationError("--message-size must be 1...65536.") }
        guard connectWindow >= 1 else { throw ValidationError("--connect-window must be at least 1.") }
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
            throw ValidationError("echo-client failed: \(error)")
        }
        for line in Self.lines(report, idleTimeout: idleTimeout?.duration) { print(line) }
        if !report.isClean(expectingIdleCloses: idleTimeout != nil) { throw ExitCode(1) }
    }

    static func lines(_ report: EchoClient.Report, idleTimeout: Duration?) -> [String] {
        var lines = [
            "connections: \(report.connected) connected, \(report.failedConnects) failed, peak \(report.peakOpen) open at once",
            "echoes: \(report.echoes) in \(String(format3: report.echoSeconds)) s = \(Int(report.echoesPerSecond.rounded())) echoes/s, "
                + "\(report.bytesVerified) bytes verified, \(report.mismatches) mismatches",
        ]
        if let idleTimeout {
            lines.append(
                "idle timeouts: \(report.idleCloses) observed, \(report.earlyCloses) early, "
                    + "closed \(String(format3: report.idleCloseMinMs))...\(String(format3: report.idleCloseMaxMs)) ms "
                    + "after the last message (timeout \(format(idleTimeout)))")
        }
        lines.append("lost: \(report.lost), unfinished: \(report.unfinished)")
        if let bytes = report.serverResidentBytes {
            lines.append("server RSS with every connection open: \(megabytes(bytes))")
        }
        return lines
    }
}
