#if os(Linux)
import CBenchmarkShims
import Foundation
import Glibc
import Histogram

/// The echo workload's client, in a process of its own (`workloads --echo-client`): opens
/// `connections` TCP connections to 127.0.0.1:`port`, then sends `roundTrips` messages of `size`
/// bytes on each, one at a time, all connections at once, from one thread waiting in epoll.
///
/// Each message is distinct (SplitMix64 seeded with the connection and the round), so a reply
/// that went to the wrong connection or came from an earlier round is caught when its bytes are
/// compared with what was sent; a round trip's latency is from its send to the last byte of its
/// reply. Sockets are non-blocking with TCP_NODELAY, every registration is level-triggered and
/// made once, and a reply is read straight into its connection's slot: per round trip the
/// generator makes one `send`, one `recv` (usually) and its share of an `epoll_wait`.
///
/// The protocol with the workload, which samples the server between the steps:
/// 1. Opens the connections, `connectWindow` connects in progress at a time, and sends one
///    warm-up message on each (checked, not timed), so that every connection has been accepted
///    and served once when step 2 is printed: the server holds them all, open and idle.
/// 2. Prints `connected K of C in T s` and waits for a line on stdin.
/// 3. Runs the timed round trips, then prints ``EchoLoadReport/marker`` + the report as JSON,
///    closes everything and exits.
struct EchoLoadGenerator: ~Copyable {
    struct Configuration: Sendable {
        var port: UInt16
        var connections = 1_000
        var roundTrips = 100
        var size = 64
        var connectWindow = 256
        /// The setup and the timed part each stop after this long; what is unfinished then is an error.
        var timeLimit: Int64 = 120 * .nanosecondsPerSecond
    }

    private enum State: UInt8 {
        case connecting, warmingUp, ready, running, done, failed
    }

    private let configuration: Configuration
    private let epoll: Epoll
    private var descriptors: [CInt]
    private var states: [State]
    /// Timed round trips completed per connection.
    private var rounds: [Int]
    private var received: [Int]
    private var sent: [Int]
    private var sentAt: [Int64]
    private var waitsForWrite: [Bool]
    /// `connections × size` bytes each: what connection i sent last, and what came back so far.
    private let sendBuffer: UnsafeMutableRawPointer
    private let receiveBuffer: UnsafeMutableRawPointer
    private var histogram = Histogram<UInt64>(
        lowestDiscernibleValue: 1,
        highestTrackableValue: 600 * 1_000_000_000,
        numberOfSignificantValueDigits: .three
    )
    private var report = EchoLoadReport()
    /// Connections whose connect or warm-up is under way (setup), or that still run (timed part).
    private var inProgress = 0
    private var lastReply: Int64 = 0

    init(_ configuration: Configuration) throws {
        precondition(configuration.connections > 0 && configuration.roundTrips > 0 && configuration.size > 0)
        self.configuration = configuration
        epoll = try Epoll()
        let count = configuration.connections
        descriptors = Array(repeating: -1, count: count)
        states = Array(repeating: .connecting, count: count)
        rounds = Array(repeating: 0, count: count)
        received = Array(repeating: 0, count: count)
        sent = Array(repeating: 0, count: count)
        sentAt = Array(repeating: 0, count: count)
        waitsForWrite = Array(repeating: false, count: count)
        sendBuffer = .allocate(byteCount: count * configuration.size, alignment: 8)
        receiveBuffer = .allocate(byteCount: count * configuration.size, alignment: 8)
        report.connections = count
        report.roundTripsPerConnection = configuration.roundTrips
        report.size = configuration.size
    }

    deinit {
        for fd in descriptors where fd >= 0 { close(fd) }
        sendBuffer.deallocate()
        receiveBuffer.deallocate()
    }

    /// Steps 1 to 3 above; the process's exit status is 0 even when round trips failed (the
    /// report counts them).
    consuming func run() throws -> Never {
        DescriptorLimit.raise()
        let setupStart = MonotonicClock.now()
        try connectAll()
        report.setupSeconds = Double(MonotonicClock.now() - setupStart) / 1e9
        report.connected = states.count { $0 == .ready }
        print("connected \(report.connected) of \(configuration.connections) in \(JSONLine.number(report.setupSeconds, decimals: 3)) s")
        fflush(nil)
        _ = readLine()

        let usageBefore = ResourceUsage.current()
        let start = MonotonicClock.now()
        try runRoundTrips()
        let usage = ResourceUsage.current() - usageBefore
        let elapsed = max(lastReply - start, 1)
        report.seconds = Double(elapsed) / 1e9
        report.cpuFraction = Double(usage.cpuNanoseconds) / Double(max(MonotonicClock.now() - start, 1))
        if histogram.totalCount > 0 {
            report.latencyMicrosecondsP50 = Double(histogram.valueAtPercentile(50)) / 1_000
            report.latencyMicrosecondsP99 = Double(histogram.valueAtPercentile(99)) / 1_000
            report.latencyMicrosecondsMax = Double(histogram.max) / 1_000
        }
        let json = (try? JSONEncoder().encode(report)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        print(EchoLoadReport.marker + json)
        fflush(nil)
        exit(0)
    }

    // MARK: Setup

    private mutating func connectAll() throws {
        let deadline = MonotonicClock.now() + configuration.timeLimit
        var next = 0
        var settled = 0
        var events = [epoll_event](repeating: epoll_event(), count: 1_024)
        while settled < configuration.connections {
            while next < configuration.connections, inProgress < configuration.connectWindow {
                startConnect(next)
                next += 1
            }
            let now = MonotonicClock.now()
            if now >= deadline { break }
            let count = try epoll.wait(into: &events, timeoutMilliseconds: CInt(min((deadline - now) / 1_000_000 + 1, 1_000)))
            for event in events.prefix(count) {
                handle(Int(event.data.u64), events: event.events, timed: false)
            }
            settled = states.count { $0 == .ready || $0 == .failed }
        }
        for index in states.indices where states[index] == .connecting || states[index] == .warmingUp {
            fail(index, .timedOut, errno: ETIMEDOUT)
        }
    }

    private mutating func startConnect(_ index: Int) {
        inProgress += 1
        let fd = socket(AF_INET, cbench_SOCK_STREAM_NONBLOCK, 0)
        guard fd >= 0 else {
            fail(index, .connect, errno: errno)
            return
        }
        descriptors[index] = fd
        var one: CInt = 1
        setsockopt(fd, CInt(IPPROTO_TCP), cbench_TCP_NODELAY, &one, socklen_t(MemoryLayout<CInt>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = configuration.port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if result == 0 {
            connected(index, registered: false)
        } else if errno == EINPROGRESS {
            register(index, events: cbench_EPOLLOUT, add: true)
        } else {
            fail(index, .connect, errno: errno)
        }
    }

    /// A connect completed: wait for replies and send the warm-up message. `registered`: the
    /// descriptor is in the epoll set already (waiting for the connect to complete).
    private mutating func connected(_ index: Int, registered: Bool) {
        states[index] = .warmingUp
        register(index, events: cbench_EPOLLIN, add: !registered)
        if states[index] == .warmingUp {
            startRound(index, round: configuration.roundTrips, at: MonotonicClock.now())
        }
    }

    private mutating func register(_ index: Int, events: UInt32, add: Bool) {
        do {
            if add {
                try epoll.add(descriptors[index], events: events, index: index)
            } else {
                try epoll.modify(descriptors[index], events: events, index: index)
            }
        } catch {
            report.lastError = "\(error)"
            fail(index, .other, errno: error.errno)
        }
    }

    // MARK: The round trips

    private mutating func runRoundTrips() throws {
        let deadline = MonotonicClock.now() + configuration.timeLimit
        inProgress = 0
        for index in states.indices where states[index] == .ready {
            states[index] = .running
            inProgress += 1
            startRound(index, round: 0, at: MonotonicClock.now())
        }
        var events = [epoll_event](repeating: epoll_event(), count: 1_024)
        while inProgress > 0 {
            let now = MonotonicClock.now()
            if now >= deadline { break }
            let count = try epoll.wait(into: &events, timeoutMilliseconds: CInt(min((deadline - now) / 1_000_000 + 1, 1_000)))
            for event in events.prefix(count) {
                handle(Int(event.data.u64), events: event.events, timed: true)
            }
        }
        for index in states.indices where states[index] == .running {
            fail(index, .timedOut, errno: ETIMEDOUT)
        }
    }

    private mutating func handle(_ index: Int, events: UInt32, timed: Bool) {
        switch states[index] {
        case .connecting:
            var error: CInt = 0
            var length = socklen_t(MemoryLayout<CInt>.size)
            getsockopt(descriptors[index], SOL_SOCKET, SO_ERROR, &error, &length)
            if error != 0 {
                fail(index, .connect, errno: error)
            } else if events & (cbench_EPOLLOUT | cbench_EPOLLERR | cbench_EPOLLHUP) != 0 {
                connected(index, registered: true)
            }
        case .warmingUp, .running:
            if events & cbench_EPOLLOUT != 0, sent[index] < configuration.size {
                send(index)
            }
            if events & (cbench_EPOLLIN | cbench_EPOLLERR | cbench_EPOLLHUP) != 0 {
                receive(index, timed: timed)
            }
        case .ready, .done:
            // Between the warm-up and the timed part, and after its last reply, a connection
            // must stay quiet: a byte is one too many (a wrong reply), an end of file before the
            // timed part closed it early. A close after the last reply is no error.
            var byte: UInt8 = 0
            let count = recv(descriptors[index], &byte, 1, 0)
            if count > 0 {
                fail(index, .wrongReply, errno: nil)
            } else if count == 0 {
                if states[index] == .ready {
                    fail(index, .closedEarly, errno: nil)
                } else {
                    close(descriptors[index])
                    descriptors[index] = -1
                }
            } else if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                failSocket(index, errno: errno)
            }
        case .failed:
            break
        }
    }

    /// Writes message (`index`, `round`) into the connection's send slot and sends it.
    private mutating func startRound(_ index: Int, round: Int, at now: Int64) {
        let size = configuration.size
        let slot = sendBuffer + index * size
        var random = SeededRandom(seed: UInt64(index) << 32 | UInt64(round))
        var offset = 0
        while offset < size {
            var word = random.next().littleEndian
            let count = min(8, size - offset)
            withUnsafeBytes(of: &word) { (slot + offset).copyMemory(from: $0.baseAddress!, byteCount: count) }
            offset += count
        }
        received[index] = 0
        sent[index] = 0
        sentAt[index] = now
        send(index)
    }

    private mutating func send(_ index: Int) {
        let size = configuration.size
        let slot = sendBuffer + index * size
        while sent[index] < size {
            let count = Glibc.send(descriptors[index], slot + sent[index], size - sent[index], cbench_MSG_NOSIGNAL)
            if count > 0 {
                sent[index] += count
            } else if errno == EINTR {
                continue
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                if !waitsForWrite[index] {
                    waitsForWrite[index] = true
                    register(index, events: cbench_EPOLLIN | cbench_EPOLLOUT, add: false)
                }
                return
            } else {
                failSocket(index, errno: errno)
                return
            }
        }
        if waitsForWrite[index] {
            waitsForWrite[index] = false
            register(index, events: cbench_EPOLLIN, add: false)
        }
    }

    private mutating func receive(_ index: Int, timed: Bool) {
        let size = configuration.size
        let count = recv(descriptors[index], receiveBuffer + index * size + received[index], size - received[index], 0)
        if count > 0 {
            received[index] += count
            if received[index] == size { complete(index, timed: timed) }
        } else if count == 0 {
            fail(index, .closedEarly, errno: nil)
        } else if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
            failSocket(index, errno: errno)
        }
    }

    /// A whole reply is in: check it, time it, send the next message or finish.
    private mutating func complete(_ index: Int, timed: Bool) {
        let now = MonotonicClock.now()
        let size = configuration.size
        guard sent[index] == size, memcmp(sendBuffer + index * size, receiveBuffer + index * size, size) == 0 else {
            fail(index, .wrongReply, errno: nil)
            return
        }
        guard timed else {
            states[index] = .ready
            inProgress -= 1
            return
        }
        histogram.record(UInt64(max(now - sentAt[index], 0)))
        report.roundTrips += 1
        lastReply = now
        rounds[index] += 1
        if rounds[index] == configuration.roundTrips {
            states[index] = .done
            inProgress -= 1
        } else {
            startRound(index, round: rounds[index], at: now)
        }
    }

    private mutating func failSocket(_ index: Int, errno code: CInt) {
        if code == ECONNRESET || code == EPIPE {
            fail(index, .reset, errno: code)
        } else {
            fail(index, .other, errno: code)
        }
    }

    private enum Failure {
        case connect, reset, closedEarly, wrongReply, timedOut, other
    }

    /// Counts the failure, closes the connection and takes it out of the run.
    private mutating func fail(_ index: Int, _ failure: Failure, errno code: CInt?) {
        guard states[index] != .failed else { return }
        switch failure {
        case .connect: report.connectFailures += 1
        case .reset: report.resets += 1
        case .closedEarly: report.closedEarly += 1
        case .wrongReply: report.wrongReplies += 1
        case .timedOut: report.timedOut += 1
        case .other: report.otherFailures += 1
        }
        if let code { report.lastError = String(cString: strerror(code)) }
        if descriptors[index] >= 0 {
            close(descriptors[index])
            descriptors[index] = -1
        }
        if states[index] != .ready && states[index] != .done { inProgress -= 1 }
        states[index] = .failed
    }
}
#endif
