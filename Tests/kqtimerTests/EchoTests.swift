#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import KQueue  // re-exports Errno
import TestSupport
import Testing
import kqtimer

/// `kqtimer echo-server` and `kqtimer echo-client`: their arguments, and a small run of both
/// in this process.
@Suite("Echo server and client", .blocking)
struct EchoTests {
    @Test("echo-server parses its options; defaults are port 7777, 5 s, 10,000 connections")
    func serverArguments() throws {
        let defaults = try EchoServerCommand.parse([])
        #expect(defaults.port == 7777)
        #expect(defaults.serverConfiguration.idleTimeout == .seconds(5))
        #expect(defaults.maxConnections == 10_000)
        let command = try EchoServerCommand.parse([
            "--host", "0.0.0.0", "--port", "0", "--idle-timeout", "250ms", "--max-connections", "50",
            "--report-interval", "0s",
        ])
        let configuration = command.serverConfiguration
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.port == 0)
        #expect(configuration.idleTimeout == .milliseconds(250))
        #expect(configuration.maxConnections == 50)
        #expect(try KQTimer.parseAsRoot(["echo-server", "--port", "9"]) is EchoServerCommand)
        #expect(!defaults.callbacks && defaults.loops == nil)
        #expect(try EchoServerCommand.parse(["--loops", "4"]).loops == 4)
        #expect(try EchoServerCommand.parse(["--callbacks"]).callbacks)
    }

    @Test("echo-server rejects a zero idle timeout, no connections and malformed values", arguments: [
        ["--idle-timeout", "0ms"], ["--max-connections", "0"], ["--port", "70000"], ["--idle-timeout", "5"],
        ["--idle-timeout", "25h"], ["--max-connections", "1000001"], ["--report-interval", "3000000000s"],
        ["--loops", "0"], ["--loops", "1025"], ["--callbacks", "--loops", "2"],
    ])
    func serverRejects(arguments: [String]) {
        #expect(throws: (any Error).self) { try EchoServerCommand.parse(arguments) }
    }

    @Test("echo-client parses its options")
    func clientArguments() throws {
        let command = try EchoClientCommand.parse([
            "--port", "9000", "--connections", "10000", "--echoes", "20", "--message-size", "128",
            "--idle-timeout", "2s", "--connect-window", "100", "--limit", "60s", "--server-pid", "1234",
        ])
        let configuration = command.clientConfiguration
        #expect(configuration.port == 9000)
        #expect(configuration.connections == 10_000)
        #expect(configuration.echoes == 20)
        #expect(configuration.messageSize == 128)
        #expect(configuration.idleTimeout == .seconds(2))
        #expect(configuration.connectWindow == 100)
        #expect(configuration.limit == .seconds(60))
        #expect(configuration.serverPID == 1234)
        #expect(try EchoClientCommand.parse([]).clientConfiguration.idleTimeout == nil)
        #expect(try KQTimer.parseAsRoot(["echo-client"]) is EchoClientCommand)
    }

    @Test("echo-client rejects impossible values", arguments: [
        ["--connections", "0"], ["--echoes", "-1"], ["--message-size", "0"], ["--message-size", "70000"],
        ["--connect-window", "0"], ["--connections", "1000000000000"], ["--connections", "1000001"],
        ["--echoes", "1000001"], ["--connect-window", "100001"], ["--limit", "0s"], ["--limit", "25h"],
        ["--connect-retry", "25h"], ["--idle-timeout", "0s"],
    ])
    func clientRejects(arguments: [String]) {
        #expect(throws: (any Error).self) { try EchoClientCommand.parse(arguments) }
    }

    @Test("200 connections: every echo comes back intact, every connection is closed by its idle timeout, never early", arguments: EchoServerKind.allCases)
    func endToEnd(kind: EchoServerKind) throws {
        var serverConfiguration = EchoServer.Configuration()
        serverConfiguration.port = 0
        // Long enough that a client slowed by a loaded machine finishes its echoes before a
        // connection is idle that long (a close mid-echo would be the server's right): under
        // ThreadSanitizer, beside the other suites on two cores, a connection has waited more
        // than 2 s between two echoes.
        serverConfiguration.idleTimeout = .seconds(10)
        let server = try kind.make(serverConfiguration)

        var clientConfiguration = EchoClient.Configuration()
        clientConfiguration.port = server.port
        clientConfiguration.connections = 200
        clientConfiguration.echoes = 5
        clientConfiguration.messageSize = 1000
        clientConfiguration.idleTimeout = .seconds(10)
        clientConfiguration.limit = .seconds(120)
        let report = try server.serving { try EchoClient(clientConfiguration).run() }

        #expect(report.connected == 200)
        #expect(report.echoes == 1000)
        #expect(report.bytesVerified == 1000 * 1000)
        #expect(report.mismatches == 0)
        #expect(report.idleCloses == 200)
        #expect(report.earlyCloses == 0)
        #expect(report.idleCloseMinMs >= 10_000)
        #expect(report.lost == 0 && report.unfinished == 0)
        #expect(report.isClean(expectingIdleCloses: true))
        let statistics = server.statistics
        #expect(statistics.accepted == 200)
        #expect(statistics.echoes >= 1000)
        #expect(statistics.bytes == 1000 * 1000)
        #expect(statistics.idleClosed == 200)
        #expect(statistics.open == 0)
        #expect(statistics.errors == 0)
    }

    @Test("--host takes a name and an IPv6 address", arguments: ["localhost", "::1"], EchoServerKind.allCases)
    func hosts(host: String, kind: EchoServerKind) throws {
        var serverConfiguration = EchoServer.Configuration()
        serverConfiguration.host = host
        serverConfiguration.port = 0
        let result = Result { () throws(EchoError) in try kind.make(serverConfiguration) }
        if case .failure(let error) = result, error.errno == .addressNotAvailable || error.errno == .addressFamilyNotSupported {
            return  // no IPv6 loopback on this machine
        }
        let server = try result.get()
        if host == "::1" { #expect(server.address.description == "[::1]:\(server.port)") }

        var clientConfiguration = EchoClient.Configuration()
        clientConfiguration.host = host
        clientConfiguration.port = server.port
        clientConfiguration.connections = 5
        clientConfiguration.echoes = 2
        clientConfiguration.limit = .seconds(120)  // bounds a hang only
        let report = try server.serving { try EchoClient(clientConfiguration).run() }
        #expect(report.connected == 5 && report.echoes == 10 && report.lost == 0)
    }

    @Test("connections past --max-connections are closed at once, and the client counts them as lost", arguments: EchoServerKind.allCases)
    func maxConnections(kind: EchoServerKind) throws {
        var serverConfiguration = EchoServer.Configuration()
        serverConfiguration.port = 0
        serverConfiguration.maxConnections = 5
        serverConfiguration.idleTimeout = .seconds(30)
        let server = try kind.make(serverConfiguration)

        var clientConfiguration = EchoClient.Configuration()
        clientConfiguration.port = server.port
        clientConfiguration.connections = 8
        clientConfiguration.echoes = 2
        clientConfiguration.limit = .seconds(120)  // bounds a hang only
        let report = try server.serving { try EchoClient(clientConfiguration).run() }

        // All eight connect before any echoes; whether a slot frees up before the last ones
        // are accepted depends on timing, so the counts are checked against each other.
        let refused = server.statistics.refused
        #expect(server.statistics.accepted == 8)
        #expect(server.statistics.peakOpen <= 5)
        #expect(report.lost == refused)
        // A refused connection ends by a close or a reset of the server, counted by cause.
        #expect(report.closedByServer + report.reset == refused)
        #expect(report.echoes == (8 - refused) * 2)
    }
}

/// A POSIX thread for the server's blocking loop (the cooperative pool must not block).
final class ServerThread: @unchecked Sendable {
    private var handle = pthread_t()

    init(_ body: @escaping @Sendable () -> Void) {
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        let result = pthread_create(
            &handle, nil,
            { argument in
                Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue().body()
                return nil
            }, box)
        precondition(result == 0, "pthread_create failed: \(result)")
    }

    func join() {
        pthread_join(handle, nil)
    }

    private final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
}
