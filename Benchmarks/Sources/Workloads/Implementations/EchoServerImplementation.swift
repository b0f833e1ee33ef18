import Foundation
import NIOCore

/// The servers of the echo workload, each run as a process of its own: the project's, which are
/// the `kqtimer` CLI's `echo-server` subcommand, and SwiftNIO's (`NIOEchoServer`, this executable
/// again with `--echo-server`). Their command lines are all here.
enum EchoServerImplementation: String, CaseIterable, Sendable {
    /// The project's kevent-callback server.
    case kqueue
    /// The project's async server on one `KQueueLoop`.
    case loop
    /// The project's async server on one loop per core.
    case loopPerCore = "loop-mt"
    /// SwiftNIO on one event loop.
    case nio
    /// SwiftNIO on one event loop per core.
    case nioPerCore = "nio-mt"

    var name: String { rawValue }

    /// The loops (threads serving connections) the server runs: a server of one loop is pinned to
    /// a CPU of its own, apart from the load generator (see `EchoWorkload`).
    var loops: Int {
        switch self {
        case .kqueue, .loop, .nio: 1
        case .loopPerCore, .nioPerCore: System.coreCount
        }
    }

    var isProject: Bool { self == .kqueue || self == .loop || self == .loopPerCore }

    /// What every project server is started with: any free port, no periodic report, no idle
    /// timeout or connection limit that a run could reach.
    static let kqtimerArguments = [
        "echo-server", "--port", "0", "--report-interval", "0s", "--idle-timeout", "24h",
        "--max-connections", "1000000",
    ]

    /// The executable and arguments that start this server, or why it cannot be started.
    ///
    /// A `kqtimer` whose `echo-server` has no `--callbacks` option predates the async server: its
    /// `echo-server` is the kevent-callback server, so `kqueue` runs it without the option and
    /// `loop` and `loop-mt` cannot run (rather than measuring the callback server under their names).
    func command() -> Result<(executable: String, arguments: [String]), EchoServerError> {
        switch self {
        case .nio, .nioPerCore:
            return .success((ChildProcess.executablePath(), ["--echo-server", rawValue, "--port", "0"]))
        case .kqueue, .loop, .loopPerCore:
            let kqtimer = Self.kqtimerPath()
            guard FileManager.default.isExecutableFile(atPath: kqtimer) else {
                return .failure(
                    EchoServerError(
                        "no kqtimer executable at \(kqtimer): build it with `swift build -c release --package-path "
                            + "Benchmarks --product kqtimer`, or name one in the environment variable KQTIMER"
                    )
                )
            }
            let hasAsyncServer = Self.echoServerOptions(kqtimer).contains("--callbacks")
            let arguments: [String]
            switch self {
            case .kqueue: arguments = hasAsyncServer ? ["--callbacks"] : []
            case .loop: arguments = []
            default: arguments = ["--loops", String(loops)]
            }
            if self != .kqueue && !hasAsyncServer {
                return .failure(
                    EchoServerError(
                        "\(kqtimer) has no async echo server (its `echo-server --help` lists no --callbacks option)"
                    )
                )
            }
            return .success((kqtimer, Self.kqtimerArguments + arguments))
        }
    }

    /// `$KQTIMER`, else `kqtimer` next to this executable (where `swift build --package-path
    /// Benchmarks --product kqtimer` puts it: the root package's product, built in this package's
    /// build folder with the same configuration).
    static func kqtimerPath() -> String {
        if let path = ProcessInfo.processInfo.environment["KQTIMER"], !path.isEmpty { return path }
        return URL(fileURLWithPath: ChildProcess.executablePath()).deletingLastPathComponent()
            .appendingPathComponent("kqtimer").path
    }

    /// The output of `kqtimer echo-server --help`.
    private static func echoServerOptions(_ kqtimer: String) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: kqtimer)
        process.arguments = ["echo-server", "--help"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return "" }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}

struct EchoServerError: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}
