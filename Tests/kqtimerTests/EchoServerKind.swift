import Testing
import kqtimer

/// The servers of `kqtimer echo-server`, for the tests that must hold for each: the async one
/// on one loop and on two (``AsyncEchoServer``), and the kevent callbacks (``EchoServer``).
enum EchoServerKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case oneLoop = "one loop"
    case twoLoops = "two loops"
    case callbacks = "callbacks"

    var testDescription: String { rawValue }

    func make(_ configuration: EchoServer.Configuration) throws(EchoError) -> any EchoServing {
        switch self {
        case .oneLoop: try AsyncEchoServer(configuration, loops: 1)
        case .twoLoops: try AsyncEchoServer(configuration, loops: 2)
        case .callbacks: try EchoServer(configuration)
        }
    }
}

extension EchoServing {
    var port: UInt16 { address.port }

    /// Runs the server on a thread of its own (the cooperative pool must not block); join the
    /// thread after ``stop()``.
    func start() -> ServerThread {
        ServerThread { try? self.run(signals: [], every: .seconds(60), report: nil) }
    }

    /// Runs the server while `body` runs, then stops it and waits for it.
    func serving<R>(_ body: () throws -> R) rethrows -> R {
        let thread = start()
        defer {
            stop()
            thread.join()
        }
        return try body()
    }
}
