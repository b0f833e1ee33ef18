import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `nio` and `nio-mt` in the echo workload: SwiftNIO's echo server as NIO's own example
/// (`Sources/NIOEchoServer/main.swift`) writes it, in a process of its own
/// (`workloads --echo-server nio --port 0`). A `ServerBootstrap` on a
/// `MultiThreadedEventLoopGroup` of `threads` loops (1 for `nio`, `System.coreCount` for
/// `nio-mt`, whose accepted channels NIO spreads over the loops round-robin); each connection's
/// pipeline is `BackPressureHandler` (stop reading while a reply cannot be written) and
/// `EchoHandler`. The one change from the example is the backlog: 4,096, as the project's server,
/// so that 1,000 connects at once are not dropped by either.
///
/// Prints `listening on 127.0.0.1:PORT` once it listens, then runs until SIGINT or SIGTERM.
enum NIOEchoServer {
    /// Writes back what it reads; flushes once per read burst, when the channel has read what
    /// the socket had (`channelReadComplete`), so that replies read together are written together.
    private final class EchoHandler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.write(data, promise: nil)
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            context.flush()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    static func run(threads: Int, port: Int) throws -> Never {
        DescriptorLimit.raise()
        // The loops' threads inherit this mask, so only the main thread's `sigwait` takes the signals.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4_096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(BackPressureHandler())
                    try channel.pipeline.syncOperations.addHandler(EchoHandler())
                }
            }
            .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator())
        let channel = try bootstrap.bind(host: "127.0.0.1", port: port).wait()
        print("listening on 127.0.0.1:\(channel.localAddress?.port ?? port), \(threads) event loop(s)")
        fflush(nil)

        var signal: CInt = 0
        sigwait(&signals, &signal)
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
        print("echo-server: done (signal \(signal))")
        fflush(nil)
        exit(0)
    }
}
