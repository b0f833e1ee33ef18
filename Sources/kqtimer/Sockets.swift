import SystemPackage

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure of the echo server or client to set up: what was being done, and why it failed,
/// for an `Error: …` line.
package struct EchoError: Error, CustomStringConvertible {
    /// What was being done, e.g. "cannot listen on 127.0.0.1:7777".
    package var operation: String
    /// Why it failed, e.g. "Address already in use".
    package var reason: String
    /// The errno, when a system call failed.
    package var errno: Errno?

    package var description: String { "\(operation): \(reason)" }
}

/// An address of a TCP endpoint, IPv4 or IPv6, as getaddrinfo(3) resolved it.
package struct SocketAddress: CustomStringConvertible, @unchecked Sendable {
    // @unchecked: sockaddr_storage is plain bytes.
    var storage = sockaddr_storage()
    var length: socklen_t = 0

    var family: CInt { CInt(storage.ss_family) }

    /// The port, in host byte order.
    package var port: UInt16 {
        withUnsafeBytes(of: storage) { raw in
            family == AF_INET6
                ? UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port)
                : UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port)
        }
    }

    /// `127.0.0.1:7777` or `[::1]:7777`.
    package var description: String {
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var copy = storage
        let result = withUnsafePointer(to: &copy) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo($0, length, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST)
            }
        }
        let name = result == 0 ? String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "?"
        return family == AF_INET6 ? "[\(name)]:\(port)" : "\(name):\(port)"
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var copy = storage
        return withUnsafePointer(to: &copy) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}

// The few socket calls the echo server and client need, each checked. Every socket is
// non-blocking and close-on-exec, and never raises SIGPIPE (see `Platform`).
enum Sockets {
    /// Resolves a host name or a numeric IPv4 or IPv6 address: the first TCP address
    /// getaddrinfo(3) gives. `passive` is for an address to listen on.
    static func resolve(_ host: String, _ port: UInt16, passive: Bool) throws(EchoError) -> SocketAddress {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Platform.streamSocket
        hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)
        var list: UnsafeMutablePointer<addrinfo>?
        let result = getaddrinfo(host, String(port), &hints, &list)
        guard result == 0, let first = list else {
            let reason = result == EAI_SYSTEM ? String(describing: Errno(rawValue: errno)) : String(cString: gai_strerror(result))
            throw EchoError(operation: "cannot resolve '\(host)'", reason: reason)
        }
        defer { freeaddrinfo(list) }
        var address = SocketAddress()
        withUnsafeMutableBytes(of: &address.storage) { raw in
            raw.copyMemory(from: UnsafeRawBufferPointer(start: first.pointee.ai_addr, count: Int(first.pointee.ai_addrlen)))
        }
        address.length = first.pointee.ai_addrlen
        return address
    }

    /// A TCP socket listening on `address` (port 0: an ephemeral port).
    ///
    /// - Returns: the descriptor and the address it listens on.
    static func makeListener(on address: SocketAddress, backlog: CInt) throws(Errno) -> (fd: CInt, address: SocketAddress) {
        let fd = try makeSocket(family: address.family)
        do throws(Errno) {
            var one: CInt = 1
            _ = try check(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size)))
            _ = try check(address.withSockaddr { bind(fd, $0, $1) })
            _ = try check(listen(fd, backlog))
            var bound = SocketAddress()
            bound.length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            _ = try check(withUnsafeMutablePointer(to: &bound.storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &bound.length) }
            })
            return (fd, bound)
        } catch {
            close(fd)
            throw error
        }
    }

    /// Starts a non-blocking connection. Returns the descriptor and whether it is connected
    /// already (otherwise it becomes writable when the connection is made or fails).
    static func startConnection(to address: SocketAddress) throws(Errno) -> (fd: CInt, isConnected: Bool) {
        let fd = try makeSocket(family: address.family)
        let result = address.withSockaddr { connect(fd, $0, $1) }
        if result == 0 { return (fd, true) }
        let error = Errno(rawValue: errno)
        guard error == .nowInProgress || error == .interrupted else {
            close(fd)
            throw error
        }
        return (fd, false)
    }

    /// Accepts one connection as a non-blocking descriptor; nil when none is waiting, or
    /// when the one waiting failed before it was accepted (accept(2) reports the network
    /// errors of a pending connection, which the caller should treat like EAGAIN).
    static func acceptConnection(_ listener: CInt) throws(Errno) -> CInt? {
        while true {
            let fd = accept(listener, nil, nil)
            if fd >= 0 {
                do throws(Errno) {
                    try configure(fd)
                } catch {
                    close(fd)
                    throw error
                }
                return fd
            }
            switch Errno(rawValue: errno) {
            case .interrupted: continue
            case .wouldBlock, .connectionAbort, .protocolError, .networkDown, .networkUnreachable, .hostIsDown,
                .noRouteToHost, .notSupportedOnSocket, .protocolNotAvailable:
                return nil
            case let error: throw error
            }
        }
    }

    /// Writes bytes to a socket with send(2), never raising SIGPIPE; returns how many were
    /// written (EINTR is retried).
    static func write(_ fd: CInt, _ bytes: UnsafeRawBufferPointer) throws(Errno) -> Int {
        while true {
            let sent = send(fd, bytes.baseAddress, bytes.count, Platform.sendFlags)
            if sent >= 0 { return sent }
            let error = Errno(rawValue: errno)
            if error != .interrupted { throw error }
        }
    }

    /// Writes `bytes[range]` to a socket, as the other `write`.
    static func write(_ fd: CInt, _ bytes: [UInt8], _ range: Range<Int>) throws(Errno) -> Int {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(Errno) in try write(fd, UnsafeRawBufferPointer(rebasing: raw[range])) }
        }
        return try result.get()
    }

    /// Reads up to `count` bytes from a socket into the start of `buffer`; 0 at the end of
    /// the stream.
    static func receive(_ fd: CInt, into buffer: inout [UInt8], count: Int) throws(Errno) -> Int {
        let result = buffer.withUnsafeMutableBytes { raw in
            Result { () throws(Errno) in try receive(fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[..<count])) }
        }
        return try result.get()
    }

    /// Reads from a socket (EINTR is retried); 0 at the end of the stream.
    static func receive(_ fd: CInt, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        do {
            return try FileDescriptor(rawValue: fd).read(into: buffer)
        } catch {
            throw (error as? Errno) ?? .ioError  // swift-system throws only Errno
        }
    }

    /// Closes a descriptor; EINTR counts as closed, as on Linux and macOS the descriptor is
    /// gone either way.
    static func close(_ fd: CInt) {
        try? FileDescriptor(rawValue: fd).close()
    }

    /// The pending error of a socket (SO_ERROR), nil for none.
    static func pendingError(_ fd: CInt) -> Errno? {
        var value: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) == 0 else { return Errno(rawValue: errno) }
        return value == 0 ? nil : Errno(rawValue: value)
    }

    private static func makeSocket(family: CInt) throws(Errno) -> CInt {
        let fd = try check(socket(family, Platform.streamSocket, 0))
        do throws(Errno) {
            try configure(fd)
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// Non-blocking, close-on-exec, no SIGPIPE.
    private static func configure(_ fd: CInt) throws(Errno) {
        let flags = try check(fcntl(fd, F_GETFL))
        _ = try check(fcntl(fd, F_SETFL, flags | O_NONBLOCK))
        _ = try check(fcntl(fd, F_SETFD, FD_CLOEXEC))
        try Platform.preventSIGPIPE(fd)
    }

    private static func check(_ result: CInt) throws(Errno) -> CInt {
        guard result >= 0 else { throw Errno(rawValue: errno) }
        return result
    }
}

enum ProcessResources {
    /// Raises the soft limit on open descriptors to the hard limit; returns the new limit.
    @discardableResult
    static func raiseDescriptorLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Platform.descriptorLimit, &limit) == 0 else { return -1 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Platform.descriptorLimit, &limit)
            _ = getrlimit(Platform.descriptorLimit, &limit)
        }
        return Int(clamping: limit.rlim_cur)
    }

    /// The resident set size of a process in bytes, nil when it cannot be read.
    static func residentBytes(of pid: pid_t = getpid()) -> Int? {
        Platform.residentBytes(of: pid)
    }

    /// The time on CLOCK_MONOTONIC, in nanoseconds.
    static func monotonicNanoseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }
}

/// Megabytes with one decimal.
func megabytes(_ bytes: Int) -> String {
    let tenths = (bytes * 10 + 524_288) / 1_048_576
    return "\(tenths / 10).\(tenths % 10) MB"
}
