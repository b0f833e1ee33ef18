import KQueue
import SystemPackage

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The echo server's load generator, on one ``KQueue``: opens many connections (a window of
/// non-blocking connects at a time, EVFILT_WRITE for each), sends each connection's messages
/// one after the other, checks every byte of every echo (EVFILT_READ), then keeps the
/// connection open and idle until the server closes it, measuring how long after the last
/// message was sent that happens. (The server re-arms its idle timer after it reads that
/// message, so the close can never come sooner than the timeout after the send; measured from
/// the echo's arrival, a busy client would see it sooner by its own delay.)
package struct EchoClient {
    package struct Configuration: Sendable {
        package var host = "127.0.0.1"
        package var port: UInt16 = 7
        package var connections = 100
        /// Messages per connection, each echoed before the next is sent.
        package var echoes = 10
        package var messageSize = 64
        /// The server's idle timeout. When given, connections stay open after their echoes
        /// until the server closes them, and a close earlier than this (less `tolerance`)
        /// counts as early; when nil, the client closes each connection after its echoes.
        package var idleTimeout: Duration?
        package var tolerance: Duration = .zero
        /// Connects in progress at once.
        package var connectWindow = 256
        /// The whole run stops after this long.
        package var limit: Duration = .seconds(120)
        /// The server's process, to sample its resident memory when every connection is open.
        package var serverPID: pid_t?

        package init() {}
    }

    package struct Report: Sendable, Equatable {
        package var connected = 0
        package var failedConnects = 0
        /// The most connections open at once.
        package var peakOpen = 0
        package var echoes = 0
        package var bytesVerified = 0
        package var mismatches = 0
        /// From the first connect to the last echo, in seconds.
        package var echoSeconds = 0.0
        /// Closes by the server after a connection's last echo.
        package var idleCloses = 0
        /// Of those, closes earlier than the idle timeout.
        package var earlyCloses = 0
        /// The shortest and longest time from a connection's last message to its close, in ms.
        package var idleCloseMinMs = 0.0
        package var idleCloseMaxMs = 0.0
        /// Connections that ended before all their echoes came back (failed connects included).
        package var lost = 0
        /// Connections still open when the limit passed.
        package var unfinished = 0
        /// The server's resident memory when the most connections were open.
        package var serverResidentBytes: Int?

        package var echoesPerSecond: Double { echoSeconds > 0 ? Double(echoes) / echoSeconds : 0 }

        /// True when nothing was lost and every idle timeout behaved.
        package func isClean(expectingIdleCloses: Bool) -> Bool {
            lost == 0 && mismatches == 0 && unfinished == 0 && earlyCloses == 0
                && (!expectingIdleCloses || idleCloses == connected)
        }
    }

    private enum Phase {
        case connecting, echoing, idle, done
    }

    private struct Connection {
        var fd: CInt = -1
        var phase = Phase.connecting
        var round = 0
        var received = 0
        /// When the last message was sent (the connection's last activity).
        var lastSent: Int64 = 0
    }

    let configuration: Configuration

    package init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    /// The byte `offset` of message `round` of connection `index`.
    static func byte(_ index: Int, _ round: Int, _ offset: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: index &* 131 &+ round &* 31 &+ offset &* 7 &+ offset >> 8)
    }

    package func run() throws(Errno) -> Report {
        let configuration = self.configuration
        let queue = try KQueue()
        let address = try Sockets.address(configuration.host, configuration.port)
        let total = configuration.connections
        var connections = [Connection](repeating: Connection(), count: total)
        var report = Report()
        var open = 0
        var started = 0
        var finished = 0
        var changes: [KEvent] = []
        var events = [KEvent](repeating: KEvent(), count: 1024)
        var message = [UInt8](repeating: 0, count: configuration.messageSize)
        var buffer = [UInt8](repeating: 0, count: max(configuration.messageSize, 4096))
        let start = ProcessResources.monotonicNanoseconds()
        var lastEcho = start
        var sampled = false
        let limitIdent: UInt = 0
        try queue.kevent(changes: [
            KEvent(ident: limitIdent, filter: .timer, flags: [.add, .oneshot], data: Int(nanoseconds(configuration.limit) / 1_000_000))
        ])

        func finish(_ index: Int) {
            let fd = connections[index].fd
            if fd >= 0 {
                // The read knote goes with the descriptor; delete it first all the same.
                try? queue.kevent(changes: [KEvent(ident: UInt(fd), filter: .read, flags: .delete)])
                _ = Glibc.close(fd)
                open -= 1
            }
            if connections[index].phase == .echoing || connections[index].phase == .connecting {
                report.lost += 1
            }
            connections[index].phase = .done
            connections[index].fd = -1
            finished += 1
        }

        func send(_ index: Int) -> Bool {
            let round = connections[index].round
            for offset in message.indices { message[offset] = Self.byte(index, round, offset) }
            connections[index].lastSent = ProcessResources.monotonicNanoseconds()
            let written = message.withUnsafeBytes { Glibc.write(connections[index].fd, $0.baseAddress, $0.count) }
            connections[index].received = 0
            return written == message.count
        }

        func startConnect() {
            let index = started
            started += 1
            do throws(Errno) {
                let (fd, isConnected) = try Sockets.connect(to: address)
                connections[index].fd = fd
                open += 1
                if isConnected {
                    connected(index)
                } else {
                    changes.append(KEvent(ident: UInt(fd), filter: .write, flags: [.add, .oneshot], udata: UInt(index)))
                }
            } catch {
                report.failedConnects += 1
                report.lost += 1
                connections[index].phase = .done
                finished += 1
            }
        }

        func connected(_ index: Int) {
            report.connected += 1
            report.peakOpen = max(report.peakOpen, open)
            connections[index].phase = .echoing
            changes.append(KEvent(ident: UInt(connections[index].fd), filter: .read, flags: .add, udata: UInt(index)))
            if configuration.echoes == 0 {
                echoed(index)
            } else if !send(index) {
                finish(index)
            }
        }

        func echoed(_ index: Int) {
            let now = ProcessResources.monotonicNanoseconds()
            if configuration.echoes == 0 { connections[index].lastSent = now }
            lastEcho = max(lastEcho, now)
            connections[index].phase = .idle
            if configuration.idleTimeout == nil { finish(index) }
        }

        func readable(_ index: Int, _ event: KEvent) {
            let fd = connections[index].fd
            let wanted = connections[index].phase == .echoing ? configuration.messageSize - connections[index].received : buffer.count
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, max(wanted, 1)) }
            if count < 0 && (errno == EAGAIN || errno == EINTR) { return }
            if count <= 0 {
                if connections[index].phase == .idle {
                    let delay = Double(ProcessResources.monotonicNanoseconds() - connections[index].lastSent) / 1e6
                    report.idleCloseMinMs = report.idleCloses == 0 ? delay : min(report.idleCloseMinMs, delay)
                    report.idleCloseMaxMs = max(report.idleCloseMaxMs, delay)
                    report.idleCloses += 1
                    if let timeout = configuration.idleTimeout,
                        delay < Double(nanoseconds(timeout) - nanoseconds(configuration.tolerance)) / 1e6
                    {
                        report.earlyCloses += 1
                    }
                }
                finish(index)
                return
            }
            guard connections[index].phase == .echoing else {
                report.mismatches += 1  // bytes nobody asked for
                return
            }
            let round = connections[index].round
            let received = connections[index].received
            for offset in 0..<count where buffer[offset] != Self.byte(index, round, received + offset) {
                report.mismatches += 1
                finish(index)
                return
            }
            report.bytesVerified += count
            connections[index].received += count
            guard connections[index].received == configuration.messageSize else { return }
            report.echoes += 1
            connections[index].round += 1
            if connections[index].round == configuration.echoes {
                echoed(index)
            } else if !send(index) {
                finish(index)
            }
        }

        var timedOut = false
        while finished < total && !timedOut {
            while started < total && started - (report.connected + report.failedConnects) < configuration.connectWindow {
                startConnect()
            }
            if !sampled && started == total && report.connected + report.failedConnects == total {
                sampled = true
                if let pid = configuration.serverPID { report.serverResidentBytes = ProcessResources.residentBytes(of: pid) }
            }
            let count: Int
            do throws(Errno) {
                count = try queue.kevent(changes: changes, events: &events, timeout: nil)
            } catch .interrupted {
                continue
            }
            changes.removeAll(keepingCapacity: true)
            for event in events[..<count] {
                if event.flags.contains(.error) { continue }
                if event.filter == .timer && event.ident == limitIdent {
                    timedOut = true
                    continue
                }
                let index = Int(event.udata)
                guard index < total, connections[index].fd == CInt(truncatingIfNeeded: event.ident),
                    connections[index].phase != .done
                else { continue }
                switch event.filter {
                case .write where connections[index].phase == .connecting:
                    if event.flags.contains(.eof) || Sockets.pendingError(connections[index].fd) != 0 {
                        report.failedConnects += 1
                        finish(index)
                    } else {
                        connected(index)
                    }
                case .read:
                    readable(index, event)
                default:
                    break
                }
            }
        }
        report.echoSeconds = Double(lastEcho - start) / 1e9
        for index in connections.indices where connections[index].phase != .done {
            report.unfinished += 1
            if connections[index].fd >= 0 { _ = Glibc.close(connections[index].fd) }
        }
        queue.close()
        return report
    }
}
