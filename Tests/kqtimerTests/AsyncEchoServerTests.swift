#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import SystemPackage
import Testing
import kqtimer

/// The echo server as async code on KQueueLoop (`kqtimer echo-server` without `--callbacks`),
/// in this process, on one loop and on two.
@Suite("Async echo server")
struct AsyncEchoServerTests {
    /// Runs `server` on a thread of its own while `body` runs, then stops it and waits for `run`.
    private func serving<R>(_ server: AsyncEchoServer, _ body: () throws -> R) rethrows -> R {
        let thread = ServerThread { try? server.run(every: .seconds(60)) }
        defer {
            server.stop()
            thread.join()
        }
        return try body()
    }

    @Test("200 connections: every echo intact, every connection closed by its idle timeout and never early", arguments: [1, 2])
    func endToEnd(loops: Int) throws {
        var configuration = EchoServer.Configuration()
        configuration.port = 0
        configuration.idleTimeout = .milliseconds(300)
        let server = try AsyncEchoServer(configuration, loops: loops)
        var client = EchoClient.Configuration()
        client.port = server.port
        client.connections = 200
        client.echoes = 5
        client.messageSize = 1000
        client.idleTimeout = .milliseconds(300)
        client.limit = .seconds(120)  // bounds a hang only
        let report = try serving(server) { try EchoClient(client).run() }

        #expect(report.connected == 200)
        #expect(report.echoes == 1000)
        #expect(report.bytesVerified == 1000 * 1000)
        #expect(report.mismatches == 0)
        #expect(report.idleCloses == 200)
        #expect(report.earlyCloses == 0, "closes came \(report.idleCloseMinMs)...\(report.idleCloseMaxMs) ms after the last message")
        #expect(report.idleCloseMinMs >= 300)
        #expect(report.lost == 0 && report.unfinished == 0)
        let statistics = server.statistics
        #expect(statistics.accepted == 200)
        #expect(statistics.bytes == 1000 * 1000)
        #expect(statistics.idleClosed == 200)
        #expect(statistics.open == 0)
        #expect(statistics.peakOpen <= 200)
        #expect(statistics.errors == 0)
    }

    @Test("a reply that does not fit stops the reading (back-pressure); a reset then closes the connection, no SIGPIPE")
    func backPressureAndReset() throws {
        var configuration = EchoServer.Configuration()
        configuration.port = 0
        configuration.idleTimeout = .seconds(60)
        let server = try AsyncEchoServer(configuration)
        try serving(server) {
            for round in 0..<3 {
                let fd = try TestSocket.open(port: server.port)
                // Send without reading: the server's replies fill the socket, then it stops
                // reading, and the sends stop too.
                let stuck = TestSocket.fillUntilStuck(fd, limit: .seconds(30))
                #expect(stuck, "round \(round): the server kept reading for 30 s")
                TestSocket.reset(fd)
            }
            // The server is alive and serving.
            var client = EchoClient.Configuration()
            client.port = server.port
            client.connections = 5
            client.echoes = 3
            client.limit = .seconds(120)
            let report = try EchoClient(client).run()
            #expect(report.echoes == 15 && report.lost == 0)
            try TestSocket.waitUntil(limit: .seconds(60)) { server.statistics.peerClosed >= 8 }
            #expect(server.statistics.peerClosed >= 8)  // 3 resets, 5 clean closes
            #expect(server.statistics.open == 0)
        }
    }

    @Test("a half-closed connection gets every echo before the server closes it", arguments: [1, 2])
    func halfClose(loops: Int) throws {
        var configuration = EchoServer.Configuration()
        configuration.port = 0
        configuration.idleTimeout = .seconds(60)
        let server = try AsyncEchoServer(configuration, loops: loops)
        try serving(server) {
            for round in 0..<4 {
                let fd = try TestSocket.open(port: server.port)
                defer { _ = close(fd) }
                let message = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ round) }
                var received: [UInt8] = []
                var sent = 0
                var isShutDown = false
                var buffer = [UInt8](repeating: 0, count: 65536)
                let clock = ContinuousClock()
                let end = clock.now + .seconds(60)  // bounds a hang only
                while clock.now < end {
                    if sent < message.count {
                        let count = message[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
                        if count > 0 { sent += count }
                    } else if !isShutDown {
                        #expect(shutdown(fd, CInt(SHUT_WR)) == 0)
                        isShutDown = true
                    }
                    let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if count > 0 {
                        received += buffer[..<count]
                    } else if count == 0 {
                        break  // the server closed after the last echo
                    } else {
                        usleep(1000)
                    }
                }
                #expect(isShutDown)
                #expect(received.count == message.count, "round \(round)")
                #expect(received == message, "round \(round)")
            }
            try TestSocket.waitUntil(limit: .seconds(60)) { server.statistics.peerClosed == 4 }
            #expect(server.statistics.peerClosed == 4)
            #expect(server.statistics.errors == 0)
        }
    }

    @Test("accept(2) out of descriptors or memory pauses accepting and the server goes on serving")
    func acceptFailures() throws {
        let failures = Atomic<Int>(0)
        var configuration = EchoServer.Configuration()
        configuration.port = 0
        configuration.acceptPause = .milliseconds(20)
        let errors: [Errno] = [.tooManyOpenFiles, .tooManyOpenFilesInSystem, .noBufferSpace, .noMemory]
        configuration.acceptConnection = { [failures] (listener) throws(Errno) in
            let failed = failures.add(1, ordering: .relaxed).oldValue
            if failed < errors.count { throw errors[failed] }
            return try EchoServer.Configuration().acceptConnection(listener)
        }
        let server = try AsyncEchoServer(configuration, loops: 2)
        var client = EchoClient.Configuration()
        client.port = server.port
        client.connections = 20
        client.echoes = 3
        client.limit = .seconds(120)  // bounds a hang only
        let report = try serving(server) { try EchoClient(client).run() }
        #expect(report.connected == 20 && report.echoes == 60 && report.lost == 0)
        #expect(server.statistics.acceptPauses == 4)
        #expect(server.statistics.accepted == 20)
    }

    @Test("connections past maxConnections are closed at once")
    func maxConnections() throws {
        var configuration = EchoServer.Configuration()
        configuration.port = 0
        configuration.maxConnections = 5
        configuration.idleTimeout = .seconds(30)
        let server = try AsyncEchoServer(configuration)
        var client = EchoClient.Configuration()
        client.port = server.port
        client.connections = 8
        client.echoes = 2
        client.limit = .seconds(120)  // bounds a hang only
        let report = try serving(server) { try EchoClient(client).run() }
        let refused = server.statistics.refused
        #expect(server.statistics.accepted == 8)
        #expect(server.statistics.peakOpen <= 6)  // counted before the refusal
        #expect(report.lost == refused)
        #expect(report.echoes == (8 - refused) * 2)
    }

    @Test("stop closes every open connection; stop before run makes run return at once")
    func stopping() throws {
        var configuration = EchoServer.Configuration()
        configuration.port = 0
        configuration.idleTimeout = .seconds(600)
        let server = try AsyncEchoServer(configuration, loops: 2)
        let thread = ServerThread { try? server.run(every: .seconds(60)) }
        let sockets = try (0..<10).map { _ in try TestSocket.open(port: server.port) }
        defer { for fd in sockets { _ = close(fd) } }
        try TestSocket.waitUntil(limit: .seconds(60)) { server.statistics.open == 10 }
        #expect(server.statistics.open == 10)
        server.stop()
        thread.join()
        #expect(server.statistics.open == 0)
        // Each client sees the server's close.
        for fd in sockets {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            var byte: UInt8 = 0
            #expect(recv(fd, &byte, 1, 0) <= 0)
        }

        let early = try AsyncEchoServer(configuration)
        early.stop()
        try early.run()  // returns: nothing to wait for
        #expect(early.statistics.accepted == 0)
    }
}
