import KQueue
import SystemPackage

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A TCP echo server on one ``KQueue``: the listening socket and every connection as
/// EVFILT_READ (EVFILT_WRITE while a reply waits for buffer space), and a per-connection idle
/// timeout as a one-shot EVFILT_TIMER whose ident is the connection's descriptor, re-armed
/// (EV_ADD again) on every read. A connection idle for the whole timeout is closed.
///
/// Each event's `udata` carries the connection's serial number, so an event collected for a
/// connection that was closed earlier in the same batch, whose descriptor number a new
/// connection took, is recognised and ignored. Closing a connection deletes its knotes first.
///
/// When accept(2) fails for lack of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM),
/// the server stops accepting for ``Configuration/acceptPause`` (the listener's knote is
/// disabled, and a one-shot timer with the listener's descriptor as ident enables it again)
/// and goes on serving the connections it has. Sockets are written with send(2) and never
/// raise SIGPIPE.
package final class EchoServer: Sendable {
    package struct Configuration: Sendable {
        /// A host name or a numeric IPv4 or IPv6 address.
        package var host = "127.0.0.1"
        package var port: UInt16 = 0
        /// A connection with no activity for this long is closed (armed in nanoseconds,
        /// never shorter).
        package var idleTimeout: Duration = .seconds(5)
        /// Connections past this many are closed as soon as they are accepted.
        package var maxConnections = 10_000
        package var backlog: CInt = 4096
        /// How long accepting stops when accept(2) runs out of descriptors or memory.
        package var acceptPause: Duration = .milliseconds(100)
        /// Accepts one connection from the listener: nil when none is waiting. Tests replace
        /// it to inject failures.
        package var acceptConnection: @Sendable (CInt) throws(Errno) -> CInt? = { (listener) throws(Errno) in
            try Sockets.acceptConnection(listener)
        }

        package init() {}
    }

    package struct Statistics: Sendable, Equatable {
        package var accepted = 0
        package var open = 0
        package var peakOpen = 0
        /// Reads echoed back.
        package var echoes = 0
        package var bytes = 0
        /// Connections closed by their idle timeout.
        package var idleClosed = 0
        /// Connections the peer closed (or reset).
        package var peerClosed = 0
        /// Connections closed at once because `maxConnections` were open.
        package var refused = 0
        /// Times accepting paused because accept(2) ran out of descriptors or memory.
        package var acceptPauses = 0
        /// Changes the queue reported as failed.
        package var errors = 0
    }

    /// One connection: its serial number, the reply bytes still to write.
    private struct Connection {
        var serial: UInt
        var pending: [UInt8] = []
        var isTimerArmed = true
        var isWriting = false
    }

    private let configuration: Configuration
    private let queue: KQueue
    private let listener: CInt
    /// The address the server listens on (with the port chosen when the configuration's is 0).
    package let address: SocketAddress
    /// The port the server listens on.
    package var port: UInt16 { address.port }
    private let shared = Locked(Statistics())

    /// The EVFILT_USER ident that stops the loop.
    private static let stopIdent: UInt = 1

    /// Creates the queue and the listening socket: once this returns, the server listens.
    ///
    /// - Throws: ``EchoError`` when the host does not resolve, the address cannot be bound
    ///   or listened on, or the queue cannot be created.
    package init(_ configuration: Configuration) throws(EchoError) {
        self.configuration = configuration
        let requested = try Sockets.resolve(configuration.host, configuration.port, passive: true)
        let queue: KQueue
        do {
            queue = try KQueue()
        } catch {
            throw EchoError(operation: "cannot create a kqueue", reason: "\(error)", errno: error)
        }
        let listener: CInt
        let address: SocketAddress
        do {
            (listener, address) = try Sockets.makeListener(on: requested, backlog: configuration.backlog)
        } catch {
            throw EchoError(operation: "cannot listen on \(requested)", reason: "\(error)", errno: error)
        }
        do {
            try queue.kevent(changes: [
                KEvent(ident: UInt(listener), filter: .read, flags: .add),
                KEvent(ident: Self.stopIdent, filter: .user, flags: [.add, .clear]),
            ])
        } catch {
            Sockets.close(listener)
            throw EchoError(operation: "cannot watch the listening socket", reason: "\(error)", errno: error)
        }
        self.queue = queue
        self.listener = listener
        self.address = address
    }

    deinit {
        Sockets.close(listener)
    }

    /// The counters as of the end of the loop's latest batch.
    package var statistics: Statistics {
        shared.withLock { $0 }
    }

    /// Ends ``run(signals:every:report:)`` from any thread.
    package func stop() {
        try? queue.kevent(changes: [KEvent(ident: Self.stopIdent, filter: .user, fflags: .trigger)])
    }

    /// The one-shot idle timer of a connection: `timeout` in nanoseconds (NOTE_NSECONDS), so
    /// it is never armed shorter than asked.
    package static func idleTimer(_ fd: CInt, serial: UInt, timeout: Duration) -> KEvent {
        KEvent(
            ident: UInt(fd), filter: .timer, flags: [.add, .oneshot], fflags: .nseconds,
            data: Int(max(nanosecondsRoundedUp(timeout), 1)), udata: serial)
    }

    /// Serves until ``stop()`` or one of `signals` arrives.
    ///
    /// - Parameters:
    ///   - signals: signals that end the loop, watched with EVFILT_SIGNAL; the caller has
    ///     blocked them in every thread.
    ///   - interval: how often `report` is called.
    ///   - report: called with the counters every `interval`, on the loop's thread.
    package func run(
        signals: [CInt] = [],
        every interval: Duration = .seconds(1),
        report: ((Statistics) -> Void)? = nil
    ) throws(Errno) {
        try queue.kevent(changes: signals.map { KEvent(ident: UInt($0), filter: .signal, flags: .add) })
        let idleTimeout = configuration.idleTimeout
        let reportNanoseconds = max(nanosecondsRoundedUp(interval), 1)
        var connections: [Connection?] = []
        var statistics = Statistics()
        var events = [KEvent](repeating: KEvent(), count: 1024)
        var changes: [KEvent] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var serial: UInt = 0
        var nextReport = ProcessResources.monotonicNanoseconds().addingReportingOverflow(reportNanoseconds)
            .partialValue
        var running = true
        var isAcceptPaused = false

        func timer(_ fd: CInt, _ serial: UInt) -> KEvent {
            Self.idleTimer(fd, serial: serial, timeout: idleTimeout)
        }

        func closeConnection(_ fd: CInt) {
            guard let connection = connections[Int(fd)] else { return }
            // Changes not yet submitted for this descriptor belong to this connection.
            changes.removeAll { $0.ident == UInt(fd) }
            var deletions = [KEvent(ident: UInt(fd), filter: .read, flags: [.delete, .receipt])]
            if connection.isWriting { deletions.append(KEvent(ident: UInt(fd), filter: .write, flags: [.delete, .receipt])) }
            if connection.isTimerArmed { deletions.append(KEvent(ident: UInt(fd), filter: .timer, flags: [.delete, .receipt])) }
            var receipts = [KEvent](repeating: KEvent(), count: deletions.count)
            if let count = try? queue.kevent(changes: deletions, events: &receipts, timeout: .zero) {
                statistics.errors += receipts[..<count].filter { $0.data != 0 }.count
            }
            Sockets.close(fd)
            connections[Int(fd)] = nil
            statistics.open -= 1
        }

        /// Stops accepting for `acceptPause`: the connections waiting stay in the backlog.
        func pauseAccepting() {
            statistics.acceptPauses += 1
            isAcceptPaused = true
            changes.append(KEvent(ident: UInt(listener), filter: .read, flags: .disable))
            changes.append(Self.idleTimer(listener, serial: 0, timeout: configuration.acceptPause))
        }

        func accept() throws(Errno) {
            while true {
                let accepted: CInt?
                do throws(Errno) {
                    accepted = try configuration.acceptConnection(listener)
                } catch .tooManyOpenFiles, .tooManyOpenFilesInSystem, .noBufferSpace, .noMemory {
                    pauseAccepting()
                    return
                }
                guard let fd = accepted else { return }
                statistics.accepted += 1
                if statistics.open >= configuration.maxConnections {
                    statistics.refused += 1
                    Sockets.close(fd)
                    continue
                }
                serial += 1
                if connections.count <= Int(fd) {
                    connections.append(contentsOf: repeatElement(nil, count: Int(fd) + 1 - connections.count))
                }
                connections[Int(fd)] = Connection(serial: serial)
                statistics.open += 1
                statistics.peakOpen = max(statistics.peakOpen, statistics.open)
                changes.append(KEvent(ident: UInt(fd), filter: .read, flags: .add, udata: serial))
                changes.append(timer(fd, serial))
            }
        }

        /// Writes the connection's pending bytes; true when all are written, nil when the
        /// connection failed.
        func flush(_ fd: CInt) -> Bool? {
            guard var connection = connections[Int(fd)] else { return nil }
            let written: Int
            do throws(Errno) {
                written = try Sockets.write(fd, connection.pending, connection.pending.indices)
            } catch .wouldBlock {
                return false
            } catch {
                return nil
            }
            connection.pending.removeFirst(written)
            connections[Int(fd)] = connection
            return connection.pending.isEmpty
        }

        func read(_ fd: CInt, _ event: KEvent) {
            guard var connection = connections[Int(fd)], connection.serial == event.udata else { return }
            let count: Int
            do throws(Errno) {
                count = try Sockets.receive(fd, into: &buffer, count: buffer.count)
            } catch .wouldBlock {
                return
            } catch {
                count = 0
            }
            if count == 0 {
                statistics.peerClosed += 1
                closeConnection(fd)
                return
            }
            statistics.echoes += 1
            statistics.bytes += count
            var written = 0
            do throws(Errno) {
                written = try Sockets.write(fd, buffer, 0..<count)
            } catch .wouldBlock {
                written = 0
            } catch {
                statistics.peerClosed += 1
                closeConnection(fd)
                return
            }
            if written < count {
                // Wait for buffer space; stop reading meanwhile.
                connection.pending = Array(buffer[written..<count])
                connection.isWriting = true
                changes.append(KEvent(ident: UInt(fd), filter: .write, flags: .add, udata: connection.serial))
                changes.append(KEvent(ident: UInt(fd), filter: .read, flags: .disable, udata: connection.serial))
            }
            connection.isTimerArmed = true
            connections[Int(fd)] = connection
            changes.append(timer(fd, connection.serial))
        }

        func write(_ fd: CInt, _ event: KEvent) {
            guard let connection = connections[Int(fd)], connection.serial == event.udata, connection.isWriting else { return }
            switch flush(fd) {
            case nil:
                statistics.peerClosed += 1
                closeConnection(fd)
            case false?:
                break
            case true?:
                connections[Int(fd)]?.isWriting = false
                changes.append(KEvent(ident: UInt(fd), filter: .write, flags: .delete))
                changes.append(KEvent(ident: UInt(fd), filter: .read, flags: .enable, udata: connection.serial))
                connections[Int(fd)]?.isTimerArmed = true
                changes.append(timer(fd, connection.serial))
            }
        }

        while running {
            let now = ProcessResources.monotonicNanoseconds()
            if now >= nextReport {
                shared.withLock { $0 = statistics }
                report?(statistics)
                nextReport = now.addingReportingOverflow(reportNanoseconds).partialValue
            }
            let count: Int
            do throws(Errno) {
                // At most an hour per wait, so any report interval is a valid timeout.
                let wait = min(max(nextReport - now, 0), 3_600_000_000_000)
                count = try queue.kevent(changes: changes, events: &events, timeout: .nanoseconds(wait))
            } catch .interrupted {
                continue
            }
            changes.removeAll(keepingCapacity: true)
            for event in events[..<count] {
                if event.flags.contains(.error) {
                    if event.data != 0 { statistics.errors += 1 }
                    continue
                }
                let fd = CInt(truncatingIfNeeded: event.ident)
                switch event.filter {
                case .read where fd == listener:
                    if !isAcceptPaused { try accept() }
                case .read:
                    read(fd, event)
                case .write:
                    write(fd, event)
                case .timer where fd == listener:
                    isAcceptPaused = false
                    changes.append(KEvent(ident: UInt(listener), filter: .read, flags: .enable))
                case .timer:
                    guard Int(fd) < connections.count, let connection = connections[Int(fd)],
                        connection.serial == event.udata
                    else { continue }
                    connections[Int(fd)]?.isTimerArmed = false  // a one-shot timer is gone once returned
                    statistics.idleClosed += 1
                    closeConnection(fd)
                case .user, .signal:
                    running = false
                default:
                    break
                }
            }
            shared.withLock { $0 = statistics }
        }
        for fd in connections.indices where connections[fd] != nil {
            closeConnection(CInt(fd))
        }
        shared.withLock { $0 = statistics }
    }
}

/// A duration in nanoseconds, rounded up to the next nanosecond, saturating at Int64.max.
func nanosecondsRoundedUp(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
    if overflow { return seconds < 0 ? .min : .max }
    let fraction = attoseconds > 0 ? (attoseconds + 999_999_999) / 1_000_000_000 : attoseconds / 1_000_000_000
    let (sum, sumOverflow) = whole.addingReportingOverflow(fraction)
    return sumOverflow ? .max : sum
}
