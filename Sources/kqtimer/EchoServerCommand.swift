import ArgumentParser
import KQueue
import SystemPackage

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `kqtimer echo-server`: a TCP echo server with idle timeouts, as async code on KQueueLoops
/// (``AsyncEchoServer``) or as kevent callbacks on one kqueue (``EchoServer``, `--callbacks`).
package struct EchoServerCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "echo-server",
        abstract: "Serve TCP echo, closing connections idle for --idle-timeout.",
        discussion: """
            By default a task per connection on KQueueLoop awaits readable and writable, and \
            --loops spreads the connections over that many loops (one acceptor hands them out \
            round-robin). With --callbacks the server is kevent callbacks on one kqueue: every \
            connection an EVFILT_READ knote, its idle timeout a one-shot EVFILT_TIMER re-armed on \
            each read. Prints the listening port, then a line of counters every \
            --report-interval, and a summary when SIGINT or SIGTERM (watched with EVFILT_SIGNAL) \
            ends it. Raises the soft limit on open files to the hard limit.
            """
    )

    @Flag(help: "Serve with kevent callbacks on one kqueue instead of tasks on KQueueLoop.")
    package var callbacks = false

    @Option(help: "How many loops serve the connections (1 to 1024; not with --callbacks). (default: 1)")
    package var loops: Int?

    @Option(help: "The address to listen on: a host name, an IPv4 or an IPv6 address.")
    package var host = "127.0.0.1"

    @Option(help: "The port to listen on (0: any free port).")
    package var port: UInt16 = 7777

    @Option(
        help: "Close a connection idle this long, e.g. 5s or 250ms (1ms to 24h). (default: 5s)",
        transform: DurationArgument.parse
    )
    package var idleTimeout = DurationArgument(duration: .seconds(5))

    @Option(help: "Connections beyond this many are closed at once (1 to 1000000).")
    package var maxConnections = 10_000

    @Option(
        help: "How often to print the counters (0s: only at the end; at most 24h). (default: 1s)",
        transform: DurationArgument.parse
    )
    package var reportInterval = DurationArgument(duration: .seconds(1))

    package init() {}

    package func validate() throws {
        try idleTimeout.check("--idle-timeout", in: .milliseconds(1)...longestDuration)
        try checkCount("--max-connections", maxConnections, in: 1...1_000_000)
        try reportInterval.check("--report-interval", in: .zero...longestDuration)
        if let loops {
            if callbacks { throw ValidationError("--loops is for the loop server; --callbacks runs one kqueue.") }
            try checkCount("--loops", loops, in: 1...1024)
        }
    }

    package var serverConfiguration: EchoServer.Configuration {
        var configuration = EchoServer.Configuration()
        configuration.host = host
        configuration.port = port
        configuration.idleTimeout = idleTimeout.duration
        configuration.maxConnections = maxConnections
        return configuration
    }

    package func run() throws {
        let limit = ProcessResources.raiseDescriptorLimit()
        // EVFILT_SIGNAL on Linux needs the signals blocked in every thread: this one is the only one.
        var mask = sigset_t()
        sigemptyset(&mask)
        sigaddset(&mask, SIGINT)
        sigaddset(&mask, SIGTERM)
        sigprocmask(SIG_BLOCK, &mask, nil)

        let server: any EchoServing
        do {
            server = callbacks
                ? try EchoServer(serverConfiguration) : try AsyncEchoServer(serverConfiguration, loops: loops ?? 1)
        } catch {
            printError("Error: \(error)")
            throw ExitCode.failure
        }
        // Printed once the socket listens: a script may wait for this line, then connect.
        let kind = callbacks ? "kevent callbacks" : "\(loops ?? 1) loop\(loops ?? 1 == 1 ? "" : "s")"
        print(
            "echo-server: pid \(getpid()), listening on \(server.address), idle timeout \(idleTimeout), "
                + "open-file limit \(limit), \(kind)")
        fflush(stdout)
        let started = ProcessResources.monotonicNanoseconds()
        var lastEchoes = 0
        var lastTime = started
        let interval = reportInterval.duration > .zero ? reportInterval.duration : longestDuration
        do {
            try server.run(signals: [SIGINT, SIGTERM], every: interval) { statistics in
                let now = ProcessResources.monotonicNanoseconds()
                let rate = Double(statistics.echoes - lastEchoes) / (Double(now - lastTime) / 1e9)
                lastEchoes = statistics.echoes
                lastTime = now
                print(Self.line(statistics, echoesPerSecond: rate))
                fflush(stdout)
            }
        } catch {
            printError("Error: the server failed: \(error)")
            throw ExitCode.failure
        }
        let statistics = server.statistics
        let seconds = Double(ProcessResources.monotonicNanoseconds() - started) / 1e9
        print("echo-server: done after \(String(format3: seconds)) s")
        print(Self.line(statistics, echoesPerSecond: Double(statistics.echoes) / max(seconds, 1e-9)))
    }

    static func line(_ statistics: EchoServer.Statistics, echoesPerSecond: Double) -> String {
        let memory = ProcessResources.residentBytes().map(megabytes) ?? "?"
        return "open \(statistics.open) (peak \(statistics.peakOpen)), accepted \(statistics.accepted), "
            + "echoes \(statistics.echoes) (\(Int(echoesPerSecond.rounded()))/s), "
            + "idle timeouts \(statistics.idleClosed), closed by peer \(statistics.peerClosed), "
            + "refused \(statistics.refused), accept pauses \(statistics.acceptPauses), errors \(statistics.errors), "
            + "RSS \(memory)"
    }
}

/// What `echo-server` needs of a server: ``EchoServer`` and ``AsyncEchoServer`` both serve it.
package protocol EchoServing: Sendable {
    var address: SocketAddress { get }
    var statistics: EchoServer.Statistics { get }
    func run(signals: [CInt], every interval: Duration, report: ((EchoServer.Statistics) -> Void)?) throws(Errno)
    func stop()
}

extension EchoServer: EchoServing {}
extension AsyncEchoServer: EchoServing {}
