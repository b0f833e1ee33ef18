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
package final class EchoServer: Sendable {
    package struct Configuration: Sendable {
        package var host = "127.0.0.1"
        package var port: UInt16 = 0
        /// A connection with no activity for this long is closed.
        package var idleTimeout: Duration = .seconds(5)
        /// Connections past this many are closed as soon as they are accepted.
        package var maxConnections = 10_000
        package var backlog: CInt = 4096

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
    /// The port the server listens on.
    package let port: UInt16
    private let shared = Locked(Statistics())

    /// The EVFILT_USER ident that stops the loop.
    private static let stopIdent: UInt = 1

    package init(_ configuration: Configuration) throws(Errno) {
        self.configuration = configuration
        let queue = try KQueue()
        let (listener, port) = try Sockets.listen(host: configuration.host, port: configuration.port, backlog: configuration.backlog)
        do throws(Errno) {
            try queue.kevent(changes: [
                KEvent(ident: UInt(listener), filter: .read, flags: .add),
                KEvent(ident: Self.stopIdent, filter: .user, flags: [.add, .clear]),
            ])
        } catch {
            _ = Glibc.close(listener)
            throw error
        }
        self.queue = queue
        self.listener = listener
        self.port = port
    }

    deinit {
        _ = Glibc.close(listener)
    }

    /// The counters as of the end of the loop's latest batch.
    package var statistics: Statistics {
        shared.withLock { $0 }
    }

    /// Ends ``run(signals:report:every:)`` from any thread.
    package func stop() {
        try? queue.kevent(changes: [KEvent(ident: Self.stopIdent, filter: .user, fflags: .trigger)])
    }

    /// Serves until ``stop()`` or one of `signals` arrives.
    ///
    /// - Parameters:
    ///   - signals: signals that end the loop, watched with EVFILT_SIGNAL; the caller has
    ///     blocked them in every thread.
    ///   - report: called with the counters every `interval`, on the loop's thread.
    package func run(
        signals: [CInt] = [],
        report: ((Statistics) -> Void)? = nil,
        every interval: Duration = .seconds(1)
    ) throws(Errno) {
        try queue.kevent(changes: signals.map { KEvent(ident: UInt($0), filter: .signal, flags: .add) })
        let idleMilliseconds = Int(configuration.idleTimeout.components.seconds * 1000)
            + Int(configuration.idleTimeout.components.attoseconds / 1_000_000_000_000_000)
        var connections: [Connection?] = []
        var statistics = Statistics()
        var events = [KEvent](repeating: KEvent(), count: 1024)
        var changes: [KEvent] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var serial: UInt = 0
        var nextReport = ProcessResources.monotonicNanoseconds() + nanoseconds(interval)
        var running = true

        func timer(_ fd: CInt, _ serial: UInt) -> KEvent {
            KEvent(ident: UInt(fd), filter: .timer, flags: [.add, .oneshot], data: max(idleMilliseconds, 1), udata: serial)
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
            _ = Glibc.close(fd)
            connections[Int(fd)] = nil
            statistics.open -= 1
        }

        func accept() throws(Errno) {
            while let fd = try Sockets.accept(listener) {
                statistics.accepted += 1
                if statistics.open >= configuration.maxConnections {
                    statistics.refused += 1
                    _ = Glibc.close(fd)
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

        /// Writes the connection's pending bytes; true when all are written.
        func flush(_ fd: CInt) -> Bool? {
            guard var connection = connections[Int(fd)] else { return nil }
            let written = connection.pending.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EAGAIN || errno == EINTR { return false }
                return nil
            }
            connection.pending.removeFirst(written)
            connections[Int(fd)] = connection
            return connection.pending.isEmpty
        }

        func read(_ fd: CInt, _ event: KEvent) {
            guard var connection = connections[Int(fd)], connection.serial == event.udata else { return }
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count == 0 || (count < 0 && errno != EAGAIN && errno != EINTR) {
                statistics.peerClosed += 1
                closeConnection(fd)
                return
            }
            guard count > 0 else { return }
            statistics.echoes += 1
            statistics.bytes += count
            let written = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, count) }
            if written < count {
                if written < 0 && errno != EAGAIN && errno != EINTR {
                    statistics.peerClosed += 1
                    closeConnection(fd)
                    return
                }
                // Wait for buffer space; stop reading meanwhile.
                connection.pending = Array(buffer[max(written, 0)..<count])
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
                nextReport = now + nanoseconds(interval)
            }
            let count: Int
            do throws(Errno) {
                count = try queue.kevent(
                    changes: changes, events: &events, timeout: .nanoseconds(max(nextReport - now, 0)))
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
                    try accept()
                case .read:
                    read(fd, event)
                case .write:
                    write(fd, event)
                case .timer:
                    guard let connection = connections[Int(fd)], connection.serial == event.udata else { continue }
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

/// A duration in nanoseconds.
func nanoseconds(_ duration: Duration) -> Int64 {
    duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
}
