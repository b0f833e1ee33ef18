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
///
/// A refused connect is tried again every 50 ms until ``Configuration/connectRetry`` has
/// passed since the start, so a client started together with its server waits for it. Every
/// failure is counted by its cause.
package struct EchoClient {
    package struct Configuration: Sendable {
        /// A host name or a numeric IPv4 or IPv6 address.
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
        /// Refused connects are retried until this long after the start.
        package var connectRetry: Duration = .seconds(5)
        /// The whole run stops after this long.
        package var limit: Duration = .seconds(120)
        /// The server's process, to sample its resident memory when every connection is open.
        package var serverPID: pid_t?

        package init() {}
    }

    package struct Report: Sendable, Equatable {
        package var connected = 0
        /// Connects that failed for good: refused (after retrying), timed out, reset, or otherwise.
        package var failedConnects = 0
        /// Of those: refused after retrying for `connectRetry`.
        package var refused = 0
        /// Of those: timed out (ETIMEDOUT).
        package var connectTimedOut = 0
        /// Of those: reset by the server (ECONNRESET), e.g. when its backlog overflowed.
        package var connectReset = 0
        /// Refused connects that were tried again.
        package var retries = 0
        /// Connections the server reset (ECONNRESET, EPIPE) before their echoes were done.
        package var reset = 0
        /// Connections the server closed before their echoes were done.
        package var closedByServer = 0
        /// Other failures, with the last errno seen.
        package var otherFailures = 0
        package var lastOtherError: Errno?
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
        case waiting, connecting, echoing, idle, done
    }

    private struct Connection {
        var fd: CInt = -1
        var phase = Phase.waiting
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

    /// Runs the load and reports what happened.
    ///
    /// - Throws: ``EchoError`` when the host does not resolve or the queue cannot be created;
    ///   failures of single connections are counted in the report instead.
    package func run() throws(EchoError) -> Report {
        let configuration = self.configuration
        let address = try Sockets.resolve(configuration.host, configuration.port, passive: false)
        let queue: KQueue
        do {
            queue = try KQueue()
        } catch {
            throw EchoError(operation: "cannot create a kqueue", reason: "\(error)", errno: error)
        }
        defer { queue.close() }
        do {
            return try run(queue: queue, address: address)
        } catch {
            throw EchoError(operation: "kevent failed", reason: "\(error)", errno: error)
        }
    }

    private func run(queue: KQueue, address: SocketAddress) throws(Errno) -> Report {
        let configuration = self.configuration
        let total = configuration.connections
        var connections = [Connection](repeating: Connection(), count: total)
        var report = Report()
        var open = 0
        var started = 0
        var inFlight = 0
        var finished = 0
        /// Refused connections waiting for the retry timer, and those it released.
        var waiting: [Int] = []
        var ready: [Int] = []
        var isRetryArmed = false
        var changes: [KEvent] = []
        var events = [KEvent](repeating: KEvent(), count: 1024)
        var message = [UInt8](repeating: 0, count: configuration.messageSize)
        var buffer = [UInt8](repeating: 0, count: max(configuration.messageSize, 4096))
        let start = ProcessResources.monotonicNanoseconds()
        let retryUntil = start.addingReportingOverflow(nanosecondsRoundedUp(configuration.connectRetry)).partialValue
        var lastEcho = start
        var sampled = false
        let limitIdent: UInt = 0
        let retryIdent: UInt = 1
        try queue.kevent(changes: [
            KEvent(
                ident: limitIdent, filter: .timer, flags: [.add, .oneshot], fflags: .nseconds,
                data: Int(nanosecondsRoundedUp(configuration.limit)))
        ])

        func closeDescriptor(_ index: Int) {
            let fd = connections[index].fd
            guard fd >= 0 else { return }
            // The read knote goes with the descriptor; delete it first all the same.
            if connections[index].phase != .connecting {
                try? queue.kevent(changes: [KEvent(ident: UInt(fd), filter: .read, flags: .delete)])
            }
            Sockets.close(fd)
            connections[index].fd = -1
            open -= 1
        }

        func finish(_ index: Int) {
            closeDescriptor(index)
            if connections[index].phase == .echoing || connections[index].phase == .connecting
                || connections[index].phase == .waiting
            {
                report.lost += 1
            }
            connections[index].phase = .done
            finished += 1
        }

        /// A connection that failed while echoing: counted by cause, then finished.
        func failed(_ index: Int, _ error: Errno?) {
            if connections[index].phase == .echoing {
                switch error {
                case nil: report.closedByServer += 1
                case .connectionReset?, .brokenPipe?: report.reset += 1
                case let error?:
                    report.otherFailures += 1
                    report.lastOtherError = error
                }
            }
            finish(index)
        }

        func connectFailed(_ index: Int, _ error: Errno) {
            closeDescriptor(index)
            if error == .connectionRefused && ProcessResources.monotonicNanoseconds() < retryUntil {
                report.retries += 1
                connections[index].phase = .waiting
                waiting.append(index)
                if !isRetryArmed {
                    isRetryArmed = true
                    changes.append(KEvent(ident: retryIdent, filter: .timer, flags: [.add, .oneshot], data: 50))
                }
                return
            }
            report.failedConnects += 1
            switch error {
            case .connectionRefused: report.refused += 1
            case .timedOut: report.connectTimedOut += 1
            case .connectionReset: report.connectReset += 1
            default:
                report.otherFailures += 1
                report.lastOtherError = error
            }
            finish(index)
        }

        func send(_ index: Int) -> Errno? {
            let round = connections[index].round
            for offset in message.indices { message[offset] = Self.byte(index, round, offset) }
            connections[index].lastSent = ProcessResources.monotonicNanoseconds()
            connections[index].received = 0
            do throws(Errno) {
                let written = try Sockets.write(connections[index].fd, message, message.indices)
                // A fresh socket's send buffer holds a message of at most 64 KiB.
                return written == message.count ? nil : .wouldBlock
            } catch {
                return error
            }
        }

        func startConnect(_ index: Int) {
            do throws(Errno) {
                let (fd, isConnected) = try Sockets.startConnection(to: address)
                connections[index].fd = fd
                connections[index].phase = .connecting
                open += 1
                if isConnected {
                    connected(index)
                } else {
                    inFlight += 1
                    changes.append(KEvent(ident: UInt(fd), filter: .write, flags: [.add, .oneshot], udata: UInt(index)))
                }
            } catch {
                connectFailed(index, error)
            }
        }

        func connected(_ index: Int) {
            report.connected += 1
            report.peakOpen = max(report.peakOpen, open)
            connections[index].phase = .echoing
            changes.append(KEvent(ident: UInt(connections[index].fd), filter: .read, flags: .add, udata: UInt(index)))
            if configuration.echoes == 0 {
                echoed(index)
            } else if let error = send(index) {
                failed(index, error)
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
            let count: Int
            do throws(Errno) {
                count = try Sockets.receive(fd, into: &buffer, count: max(wanted, 1))
            } catch .wouldBlock {
                return
            } catch {
                if connections[index].phase == .idle {
                    finish(index)  // a reset after the echoes: the server is done with it
                } else {
                    failed(index, error)
                }
                return
            }
            if count == 0 {
                if connections[index].phase == .idle {
                    let delay = Double(ProcessResources.monotonicNanoseconds() - connections[index].lastSent) / 1e6
                    report.idleCloseMinMs = report.idleCloses == 0 ? delay : min(report.idleCloseMinMs, delay)
                    report.idleCloseMaxMs = max(report.idleCloseMaxMs, delay)
                    report.idleCloses += 1
                    if let timeout = configuration.idleTimeout,
                        delay < Double(nanosecondsRoundedUp(timeout) - nanosecondsRoundedUp(configuration.tolerance)) / 1e6
                    {
                        report.earlyCloses += 1
                    }
                    finish(index)
                } else {
                    failed(index, nil)
                }
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
            } else if let error = send(index) {
                failed(index, error)
            }
        }

        var timedOut = false
        while finished < total && !timedOut {
            while inFlight < configuration.connectWindow && (!ready.isEmpty || started < total) {
                if let index = ready.popLast() {
                    startConnect(index)
                } else {
                    started += 1
                    startConnect(started - 1)
                }
            }
            if !sampled && started == total && inFlight == 0 && waiting.isEmpty && ready.isEmpty {
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
                if event.filter == .timer {
                    if event.ident == limitIdent { timedOut = true }
                    if event.ident == retryIdent {
                        isRetryArmed = false
                        ready += waiting
                        waiting.removeAll()
                    }
                    continue
                }
                let index = Int(event.udata)
                guard index < total, connections[index].fd == CInt(truncatingIfNeeded: event.ident),
                    connections[index].phase != .done
                else { continue }
                switch event.filter {
                case .write where connections[index].phase == .connecting:
                    inFlight -= 1
                    // With EV_EOF the socket's error is in fflags (read with SO_ERROR, which
                    // clears it on Linux); otherwise SO_ERROR still holds it.
                    let reported = event.fflags.rawValue
                    if event.flags.contains(.eof) || reported != 0 {
                        let error = reported != 0 ? Errno(rawValue: CInt(bitPattern: reported)) : Sockets.pendingError(connections[index].fd)
                        connectFailed(index, error ?? .connectionReset)
                    } else if let error = Sockets.pendingError(connections[index].fd) {
                        connectFailed(index, error)
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
            if connections[index].fd >= 0 { Sockets.close(connections[index].fd) }
        }
        return report
    }
}
