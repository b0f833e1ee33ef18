#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KQueue
import Testing

// Descriptors for the read / write / signal / process suites: pipes, sockets, FIFOs, files
// and child processes, each checked as it is made.

/// A read change for descriptor `fd`.
func readEvent(_ fd: CInt, _ flags: KEvent.Flags = [.add], fflags: KEvent.FilterFlags = [], data: Int = 0, udata: UInt = 0)
    -> KEvent
{
    KEvent(ident: UInt(fd), filter: .read, flags: flags, fflags: fflags, data: data, udata: udata)
}

/// A write change for descriptor `fd`.
func writeEvent(_ fd: CInt, _ flags: KEvent.Flags = [.add], fflags: KEvent.FilterFlags = [], data: Int = 0, udata: UInt = 0)
    -> KEvent
{
    KEvent(ident: UInt(fd), filter: .write, flags: flags, fflags: fflags, data: data, udata: udata)
}

/// Sets O_NONBLOCK and FD_CLOEXEC.
func makeNonBlocking(_ fd: CInt) {
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
}

/// A non-blocking pipe: (read end, write end).
func makePipe() throws -> (read: CInt, write: CInt) {
    var fds: [CInt] = [-1, -1]
    try #require(pipe(&fds) == 0)
    makeNonBlocking(fds[0])
    makeNonBlocking(fds[1])
    return (fds[0], fds[1])
}

/// A connected non-blocking socket pair of `type` (SOCK_STREAM, SOCK_DGRAM).
func makeSocketPair(_ type: Int32 = Int32(SOCK_STREAM.rawValue)) throws -> (CInt, CInt) {
    var fds: [CInt] = [-1, -1]
    try #require(socketpair(AF_UNIX, type, 0, &fds) == 0)
    makeNonBlocking(fds[0])
    makeNonBlocking(fds[1])
    return (fds[0], fds[1])
}

/// Writes `count` bytes of 'x'; returns how many were written (-1 on error).
@discardableResult
func writeBytes(_ fd: CInt, _ count: Int) -> Int {
    let bytes = [UInt8](repeating: 0x78, count: count)
    return bytes.withUnsafeBytes { write(fd, $0.baseAddress, count) }
}

/// Reads up to `count` bytes; returns how many were read (-1 on error).
@discardableResult
func readBytes(_ fd: CInt, _ count: Int) -> Int {
    var bytes = [UInt8](repeating: 0, count: count)
    return bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, count) }
}

/// Writes until the descriptor would block; returns the bytes written.
func fill(_ fd: CInt) -> Int {
    var total = 0
    while true {
        let written = writeBytes(fd, 65536)
        if written <= 0 { return total }
        total += written
    }
}

/// A TCP socket listening on 127.0.0.1 with an ephemeral port: (descriptor, port).
func makeListener(backlog: CInt = 16) throws -> (fd: CInt, port: UInt16) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    try #require(fd >= 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    try #require(bound == 0)
    try #require(listen(fd, backlog) == 0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    makeNonBlocking(fd)
    return (fd, UInt16(bigEndian: address.sin_port))
}

/// A TCP connection to 127.0.0.1:`port`, connected (blocking), then made non-blocking.
func connectTCP(_ port: UInt16) throws -> CInt {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    try #require(fd >= 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = port.bigEndian
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    try #require(connected == 0)
    makeNonBlocking(fd)
    return fd
}

/// Accepts one connection (already established by ``connectTCP(_:)``), waiting up to 30 s for it.
func acceptTCP(_ listener: CInt) throws -> CInt {
    let deadline = now() + 30_000_000_000
    while now() < deadline {
        let fd = accept(listener, nil, nil)
        if fd >= 0 {
            makeNonBlocking(fd)
            return fd
        }
        sleep(.milliseconds(1))
    }
    Issue.record("no connection to accept within 30 s")
    return -1
}

/// A temporary file path that does not exist yet.
func temporaryPath(_ name: String) -> String {
    "/tmp/kqueue-tests-\(getpid())-\(name)-\(UInt32.random(in: 0 ... .max))"
}

/// Waits until the child is a zombie (exited, not reaped), up to 60 s (a child exits in
/// milliseconds; the limit only keeps a failing test from hanging, and reaching it is an issue).
func waitUntilExited(_ pid: pid_t, sourceLocation: SourceLocation = #_sourceLocation) {
    let deadline = now() + 60_000_000_000
    var info = siginfo_t()
    while now() < deadline {
        info = siginfo_t()
        if waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info._sifields._kill.si_pid == pid {
            return
        }
        sleep(.milliseconds(2))
    }
    Issue.record("child \(pid) did not exit within 60 s", sourceLocation: sourceLocation)
}

/// Reaps a child; returns its wait status.
@discardableResult
func reap(_ pid: pid_t) -> CInt {
    var status: CInt = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    return status
}
