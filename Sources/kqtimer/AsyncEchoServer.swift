import Dispatch
import KQueue
import KQueueTimers
import Synchronization
import SystemPackage

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The TCP echo server of ``EchoServer`` written as async code on ``KQueueLoop``s: a task per
/// connection makes its socket a ``LoopDescriptor``, reads, writes the reply, and waits in
/// `whenWritable` while the reply does not fit, reading nothing meanwhile (back-pressure).
/// The same configuration and counters as ``EchoServer``.
///
/// - **Loops.** The server runs `loops` loops (a ``KQueueLoopGroup``). One acceptor task on
///   the first loop accepts every connection and hands each to the next loop, round-robin.
///   One listener and one acceptor rather than a listener per loop with SO_REUSEPORT: Darwin's
///   SO_REUSEPORT does not spread TCP connections over the listeners, and Linux's hashes
///   them, so with few connections a loop may get none; handing out is portable and even.
/// - **Tasks.** Each loop runs one task holding a discarding task group; its connections are
///   child tasks on the same loop. Stopping is one `cancelAll()` per loop: every wait ends
///   with `CancellationError` and every connection closes.
/// - **Idle timeout.** One timer per connection, moved lazily: a read only notes the time;
///   when the timer fires before the latest activity's deadline it is set again for the
///   rest. A connection idle for the whole timeout is shut down by its timer (never earlier),
///   and its task wakes with end-of-file and closes it.
/// - **Descriptors.** When accept(2) runs out of descriptors or memory (EMFILE, ENFILE,
///   ENOBUFS, ENOMEM), the acceptor sleeps ``EchoServer/Configuration/acceptPause`` and goes
///   on; the connections it has are served meanwhile.
/// - Sockets are written with send(2) and never raise SIGPIPE.
package final class AsyncEchoServer: Sendable {
    private let configuration: EchoServer.Configuration
    private let group: KQueueLoopGroup
    private let shards: [Shard]
    private let listener: CInt
    /// The address the server listens on (with the port chosen when the configuration's is 0).
    package let address: SocketAddress
    /// The port the server listens on.
    package var port: UInt16 { address.port }

    /// Connections open now, over every loop.
    private let openCount = Atomic<Int>(0)
    /// The acceptor's counters: accepted, refused, accept pauses, peak open.
    private let acceptCounters = Mutex(EchoServer.Statistics())
    private let control = Mutex(Control())

    private struct Control {
        var isStopRequested = false
        var acceptor: Task<Void, Never>?
    }

    /// Starts `loops` loops and the listening socket: once this returns, the server listens
    /// (connections wait in the backlog until ``run(signals:every:report:)``).
    ///
    /// - Throws: ``EchoError`` when the host does not resolve, the address cannot be bound or
    ///   listened on, or a loop cannot be started.
    package init(_ configuration: EchoServer.Configuration, loops: Int = 1) throws(EchoError) {
        self.configuration = configuration
        let requested = try Sockets.resolve(configuration.host, configuration.port, passive: true)
        let group: KQueueLoopGroup
        do {
            group = try KQueueLoopGroup(count: loops)
        } catch {
            throw EchoError(operation: "cannot start \(loops) loops", reason: "\(error)", errno: error)
        }
        do {
            (listener, address) = try Sockets.makeListener(on: requested, backlog: configuration.backlog)
        } catch {
            group.shutdown()
            throw EchoError(operation: "cannot listen on \(requested)", reason: "\(error)", errno: error)
        }
        self.group = group
        shards = group.loops.map(Shard.init(loop:))
    }

    deinit {
        group.shutdown()
        Sockets.close(listener)
    }

    /// The counters now, summed over the loops.
    package var statistics: EchoServer.Statistics {
        var total = acceptCounters.withLock { $0 }
        for shard in shards {
            let counters = shard.counters.withLock { $0 }
            total.echoes += counters.echoes
            total.bytes += counters.bytes
            total.idleClosed += counters.idleClosed
            total.peerClosed += counters.peerClosed
            total.errors += counters.errors
        }
        total.open = openCount.load(ordering: .relaxed)
        return total
    }

    /// Ends ``run(signals:every:report:)`` from any thread: accepting stops, then every
    /// connection is closed. Before `run`, it makes `run` return at once.
    package func stop() {
        control.withLock {
            $0.isStopRequested = true
            $0.acceptor?.cancel()
        }
    }

    /// Serves until ``stop()`` or one of `signals` arrives, then shuts the loops down; blocks
    /// the calling thread, which must not be one of the server's loops. Call it once.
    ///
    /// - Parameters:
    ///   - signals: signals that end the server, awaited as ``KQueueLoop/signals(_:)``
    ///     sequences; the caller has blocked them in every thread.
    ///   - interval: how often `report` is called.
    ///   - report: called with the counters every `interval`, on the calling thread.
    /// - Throws: `Errno` if a signal cannot be watched or the listener cannot be waited for.
    package func run(
        signals: [CInt] = [],
        every interval: Duration = .seconds(1),
        report: ((EchoServer.Statistics) -> Void)? = nil
    ) throws(Errno) {
        let first = group.loops[0]
        let deliveries = try signals.map { (signal) throws(Errno) in try first.signals(signal) }
        let failure = Mutex<Errno?>(nil)
        let servers = shards.map { shard in
            Task(executorPreference: shard.loop) { await self.serveConnections(on: shard) }
        }
        let acceptor = Task(executorPreference: first) {
            do throws(Errno) {
                try await self.accept()
            } catch {
                failure.withLock { $0 = error }
            }
            // A loop hears that no more connections will come after every one handed to it.
            for shard in self.shards { _ = shard.loop.execute { shard.finish() } }
        }
        let watchers = deliveries.map { sequence in
            Task(executorPreference: first) {
                for await _ in sequence {
                    self.stop()
                    break
                }
            }
        }
        control.withLock {
            $0.acceptor = acceptor
            if $0.isStopRequested { acceptor.cancel() }
        }
        let finished = DispatchSemaphore(value: 0)
        // On a loop, not the global executor: the cooperative pool may be blocked by callers
        // like this one.
        Task(executorPreference: first) {
            await acceptor.value
            for server in servers { await server.value }
            for watcher in watchers { watcher.cancel() }
            finished.signal()
        }
        let nanoseconds = nanosecondsRoundedUp(interval)
        while finished.wait(timeout: .now() + .nanoseconds(Int(clamping: nanoseconds))) == .timedOut {
            report?(statistics)
        }
        group.shutdown()
        if let error = failure.withLock({ $0 }) { throw error }
    }

    // MARK: - Accepting

    /// Accepts connections until the task is cancelled, handing each to the next loop.
    private func accept() async throws(Errno) {
        let loop = group.loops[0]
        while !Task.isCancelled {
            do {
                _ = try await loop.readable(listener)
            } catch is CancellationError {
                return
            } catch {
                throw (error as? Errno) ?? .ioError  // readable throws CancellationError or Errno
            }
            var isOutOfResources = false
            accepting: while true {
                let fd: CInt
                switch try acceptOne() {
                case .connection(let accepted): fd = accepted
                case .none: break accepting
                case .outOfResources:
                    isOutOfResources = true
                    break accepting
                }
                let open = openCount.wrappingAdd(1, ordering: .relaxed).newValue
                let isRefused = open > configuration.maxConnections
                acceptCounters.withLock {
                    $0.accepted += 1
                    if isRefused { $0.refused += 1 } else { $0.peakOpen = max($0.peakOpen, open) }
                }
                if isRefused {
                    connectionClosed(fd)
                    continue
                }
                let shard = shards[Int(UInt(bitPattern: nextShard.wrappingAdd(1, ordering: .relaxed).oldValue) % UInt(shards.count))]
                if !shard.loop.execute({ shard.hand(fd) }) {
                    connectionClosed(fd)
                }
            }
            if isOutOfResources {
                acceptCounters.withLock { $0.acceptPauses += 1 }
                do {
                    try await loop.sleep(for: configuration.acceptPause)
                } catch {
                    return  // cancelled
                }
            }
        }
    }

    private let nextShard = Atomic<Int>(0)

    private enum Accepted {
        case connection(CInt)
        /// No connection is waiting.
        case none
        /// accept(2) ran out of descriptors or memory.
        case outOfResources
    }

    private func acceptOne() throws(Errno) -> Accepted {
        do throws(Errno) {
            guard let fd = try configuration.acceptConnection(listener) else { return .none }
            return .connection(fd)
        } catch .tooManyOpenFiles, .tooManyOpenFilesInSystem, .noBufferSpace, .noMemory {
            return .outOfResources
        }
    }

    private func connectionClosed(_ fd: CInt) {
        Sockets.close(fd)
        openCount.wrappingSubtract(1, ordering: .relaxed)
    }

    // MARK: - Serving

    /// A loop's connections: a child task each, until the acceptor says no more will come;
    /// then every one is cancelled.
    private func serveConnections(on shard: Shard) async {
        await withDiscardingTaskGroup { group in
            while let fd = await shard.next() {
                group.addTask(executorPreference: shard.loop) { await self.serve(fd, on: shard) }
            }
            group.cancelAll()
        }
    }

    /// How a connection ended.
    private enum Ending {
        case peer, idle, stopped, failed
    }

    /// Echoes one connection until the peer closes it, it fails, its idle timeout passes or
    /// the server stops; then closes it.
    ///
    /// The connection is a ``LoopDescriptor``: its knotes are added once and the loop keeps
    /// its readiness, so an echo costs a read and a send, and the task waits only when the
    /// bytes the last event counted are all read.
    private func serve(_ fd: CInt, on shard: Shard) async {
        let loop = shard.loop
        let connection: LoopDescriptor
        do {
            connection = try LoopDescriptor(fd, on: loop)
        } catch {
            connectionClosed(fd)
            shard.counters.withLock { $0.errors += 1 }
            return
        }
        let idle = IdleTimer(fd, timeout: configuration.idleTimeout, on: loop)
        var ending = Ending.peer
        do {
            while true {
                let count = try await connection.read(into: shard.buffer)
                if count == 0 { break }
                idle.touch()
                shard.counters.withLock {
                    $0.echoes += 1
                    $0.bytes += count
                }
                let reply = UnsafeRawBufferPointer(rebasing: shard.buffer[..<count])
                let written = try Self.send(fd, reply)
                if written < count {
                    // The rest waits in a buffer of its own: the loop's is reused by the next
                    // read, and nothing is read until it is sent (back-pressure).
                    var pending = Array(reply[written...])
                    while !pending.isEmpty {
                        let sent = try await connection.whenWritable { () throws(Errno) in
                            try Sockets.write(fd, pending, pending.indices)
                        }
                        pending.removeFirst(sent)
                    }
                    idle.touch()
                }
            }
        } catch is CancellationError {
            ending = .stopped
        } catch let error as Errno where Self.isPeerGone(error) {
            ending = .peer
        } catch {
            ending = .failed
        }
        if idle.hasExpired { ending = .idle }
        idle.cancel()
        connection.close()
        openCount.wrappingSubtract(1, ordering: .relaxed)
        shard.counters.withLock {
            switch ending {
            case .peer: $0.peerClosed += 1
            case .idle: $0.idleClosed += 1
            case .failed: $0.errors += 1
            case .stopped: break
            }
        }
    }

    /// A reset, a broken pipe or an abort: the peer went away.
    private static func isPeerGone(_ error: Errno) -> Bool {
        switch error {
        case .connectionReset, .brokenPipe, .connectionAbort, .timedOut, .socketNotConnected: true
        default: false
        }
    }

    /// Writes what fits; 0 when nothing does.
    private static func send(_ fd: CInt, _ bytes: UnsafeRawBufferPointer) throws(Errno) -> Int {
        do throws(Errno) {
            return try Sockets.write(fd, bytes)
        } catch .wouldBlock {
            return 0
        }
    }

}

/// What one loop of an ``AsyncEchoServer`` keeps: the connections handed to it and not yet
/// started, its read buffer, its counters.
///
/// Everything but `counters` is reached only on the loop's thread.
private final class Shard: @unchecked Sendable {
    let loop: KQueueLoop
    /// Every read of the loop's connections lands here; a reply that does not fit is copied out.
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)
    /// Echoes, bytes and endings of the loop's connections; read by `statistics` from any thread.
    let counters = Mutex(EchoServer.Statistics())
    /// Connections handed over and not yet taken: `arrived[taken...]`.
    private var arrived: [CInt] = []
    private var taken = 0
    private var waiter: CheckedContinuation<CInt?, Never>?
    private var isFinished = false

    init(loop: KQueueLoop) {
        self.loop = loop
    }

    deinit {
        buffer.deallocate()
        for fd in arrived[taken...] { Sockets.close(fd) }
    }

    /// On the loop: a connection for this loop.
    func hand(_ fd: CInt) {
        if !resumeWaiter(with: fd) { arrived.append(fd) }
    }

    /// On the loop: no more connections will come; `next()` returns nil once the ones that
    /// came are taken.
    func finish() {
        isFinished = true
        _ = resumeWaiter(with: nil)
    }

    /// Resumes the task waiting in `next()` with `fd`; false if none waits.
    private func resumeWaiter(with fd: CInt?) -> Bool {
        guard let waiter else { return false }
        self.waiter = nil
        waiter.resume(returning: fd)
        return true
    }

    /// On the loop: the next connection, waiting for one; nil once ``finish()`` was called
    /// and every connection was taken.
    func next() async -> CInt? {
        if taken < arrived.count {
            let fd = arrived[taken]
            taken += 1
            if taken == arrived.count {
                arrived.removeAll(keepingCapacity: true)
                taken = 0
            }
            return fd
        }
        if isFinished { return nil }
        return await withCheckedContinuation { waiter = $0 }
    }
}

/// A connection's idle timeout on its loop: one timer, moved lazily. ``touch()`` only notes
/// the new deadline; when the timer fires before it, it is set again for the rest.
///
/// Reached only on the loop's thread (the connection's task and the timer both run there).
private final class IdleTimer: @unchecked Sendable {
    private let fd: CInt
    private let timeout: Duration
    private let loop: KQueueLoop
    private var deadline: KQueueClock.Instant
    private var timer: TimerHandle?
    /// The timeout passed and the socket was shut down.
    private(set) var hasExpired = false

    init(_ fd: CInt, timeout: Duration, on loop: KQueueLoop) {
        self.fd = fd
        self.timeout = timeout
        self.loop = loop
        deadline = loop.now.advanced(by: timeout)
        arm()
    }

    /// The connection was active now: it may be idle until `now + timeout`.
    func touch() {
        deadline = loop.now.advanced(by: timeout)
    }

    func cancel() {
        timer?.cancel()
        timer = nil
    }

    private func arm() {
        timer = loop.schedule(at: deadline) { [self] in fire() }
    }

    private func fire() {
        guard timer != nil else { return }
        if loop.now < deadline {
            arm()
        } else {
            hasExpired = true
            timer = nil
            // The task waiting on the socket wakes with end-of-file and closes it.
            _ = shutdown(fd, CInt(SHUT_RDWR))
        }
    }
}
