import SystemPackage

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The few socket and process calls the echo server and client need, each checked.

enum Sockets {
    /// An IPv4 address and port.
    static func address(_ host: String, _ port: UInt16) throws(Errno) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { throw .invalidArgument }
        return address
    }

    /// A non-blocking TCP socket listening on `host`:`port` (0: an ephemeral port).
    ///
    /// - Returns: the descriptor and the port it listens on.
    static func listen(host: String, port: UInt16, backlog: CInt) throws(Errno) -> (fd: CInt, port: UInt16) {
        let fd = try check(socket(AF_INET, socketType(SOCK_STREAM), 0))
        do throws(Errno) {
            var one: CInt = 1
            _ = try check(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size)))
            var address = try self.address(host, port)
            _ = try check(withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            })
            _ = try check(Glibc.listen(fd, backlog))
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = try check(withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            })
            try setNonBlocking(fd)
            return (fd, UInt16(bigEndian: address.sin_port))
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
    }

    /// Starts a non-blocking connection. Returns the descriptor and whether it is connected
    /// already (otherwise it becomes writable when the connection is made or fails).
    static func connect(to address: sockaddr_in) throws(Errno) -> (fd: CInt, isConnected: Bool) {
        let fd = try check(socket(AF_INET, socketType(SOCK_STREAM), 0))
        do throws(Errno) {
            try setNonBlocking(fd)
            var address = address
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if result == 0 { return (fd, true) }
            guard errno == EINPROGRESS else { throw Errno(rawValue: errno) }
            return (fd, false)
        } catch {
            _ = Glibc.close(fd)
            throw error
        }
    }

    /// Accepts one connection as a non-blocking descriptor; nil when none is waiting.
    static func accept(_ listener: CInt) throws(Errno) -> CInt? {
        while true {
            let fd = Glibc.accept(listener, nil, nil)
            if fd >= 0 {
                try setNonBlocking(fd)
                return fd
            }
            switch Errno(rawValue: errno) {
            case .interrupted: continue
            case .wouldBlock, .connectionAbort: return nil
            case let error: throw error
            }
        }
    }

    /// The pending error of a socket (SO_ERROR), 0 for none.
    static func pendingError(_ fd: CInt) -> CInt {
        var value: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        return getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) == 0 ? value : errno
    }

    static func setNonBlocking(_ fd: CInt) throws(Errno) {
        let flags = try check(fcntl(fd, F_GETFL))
        _ = try check(fcntl(fd, F_SETFL, flags | O_NONBLOCK))
        _ = try check(fcntl(fd, F_SETFD, FD_CLOEXEC))
    }

    private static func socketType(_ type: __socket_type) -> CInt {
        CInt(type.rawValue)
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
        guard getrlimit(RLIMIT_NOFILE_ID, &limit) == 0 else { return -1 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(RLIMIT_NOFILE_ID, &limit)
            _ = getrlimit(RLIMIT_NOFILE_ID, &limit)
        }
        return Int(limit.rlim_cur)
    }

    /// The resident set size of a process in bytes (VmRSS of /proc/<pid>/status), nil when
    /// it cannot be read.
    static func residentBytes(of pid: pid_t = getpid()) -> Int? {
        guard let file = fopen("/proc/\(pid)/status", "r") else { return nil }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0 {
            guard let line else { continue }
            let text = String(cString: line)
            if text.hasPrefix("VmRSS:") {
                let kilobytes = text.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) }
                return kilobytes.map { $0 * 1024 }
            }
        }
        return nil
    }

    /// The time on CLOCK_MONOTONIC, in nanoseconds.
    static func monotonicNanoseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
    }
}

#if canImport(Glibc)
private let RLIMIT_NOFILE_ID = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
#else
private let RLIMIT_NOFILE_ID = RLIMIT_NOFILE
#endif

/// Megabytes with one decimal.
func megabytes(_ bytes: Int) -> String {
    let tenths = (bytes * 10 + 524_288) / 1_048_576
    return "\(tenths / 10).\(tenths % 10) MB"
}
