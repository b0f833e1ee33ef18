// Everything in the command-line program that differs between Linux and Darwin, in one file:
// the C module, socket constants, SIGPIPE, signal handlers, descriptor limits and the
// resident memory of a process. The other files use these names, swift-system and the
// standard library, so they compile unchanged on both.

import SystemPackage

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum Platform {
    /// `SOCK_STREAM` as socket(2) and getaddrinfo(3) take it (an enum case on Glibc).
    static var streamSocket: CInt {
        #if canImport(Glibc)
        CInt(SOCK_STREAM.rawValue)
        #else
        SOCK_STREAM
        #endif
    }

    /// The flags every send(2) on a socket passes: `MSG_NOSIGNAL` on Linux, so writing to a
    /// socket whose peer is gone fails with EPIPE instead of raising SIGPIPE. Darwin has no
    /// such flag; ``preventSIGPIPE(_:)`` sets `SO_NOSIGPIPE` on the socket instead.
    static var sendFlags: CInt {
        #if canImport(Glibc)
        CInt(MSG_NOSIGNAL)
        #else
        0
        #endif
    }

    /// Makes writes to a new socket fail with EPIPE instead of raising SIGPIPE: `SO_NOSIGPIPE`
    /// on Darwin; on Linux nothing, since every send passes ``sendFlags``.
    static func preventSIGPIPE(_ fd: CInt) throws(Errno) {
        #if canImport(Darwin)
        var one: CInt = 1
        guard setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<CInt>.size)) == 0 else {
            throw Errno(rawValue: errno)
        }
        #endif
    }

    /// Installs `handler` for `signal` with an empty mask and no `SA_RESTART`, so a blocking
    /// call in progress returns EINTR.
    static func setSignalHandler(_ signal: CInt, _ handler: @convention(c) (CInt) -> Void) {
        var action = sigaction()
        #if canImport(Glibc)
        action.__sigaction_handler.sa_handler = handler
        #else
        action.__sigaction_u.__sa_handler = handler
        #endif
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(signal, &action, nil)
    }

    /// `RLIMIT_NOFILE` as getrlimit(2) takes it.
    static var descriptorLimit: RLimitResource {
        #if canImport(Glibc)
        __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        RLIMIT_NOFILE
        #endif
    }

    #if canImport(Glibc)
    typealias RLimitResource = __rlimit_resource_t
    #else
    typealias RLimitResource = CInt
    #endif

    /// The resident set size of a process in bytes, nil when it cannot be read: VmRSS of
    /// /proc/<pid>/status on Linux, `proc_pidinfo(PROC_PIDTASKINFO)` on Darwin.
    static func residentBytes(of pid: pid_t) -> Int? {
        #if canImport(Glibc)
        guard let file = fopen("/proc/\(pid)/status", "r") else { return nil }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0 {
            guard let line else { continue }
            let text = String(cString: line)
            if text.hasPrefix("VmRSS:") {
                let fields = text.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" })
                return fields.first.flatMap { Int($0) }.map { $0 * 1024 }
            }
        }
        return nil
        #else
        var info = proc_taskinfo()
        let size = CInt(MemoryLayout<proc_taskinfo>.size)
        guard proc_pidinfo(pid, PROC_PIDTASKINFO, 0, &info, size) == size else { return nil }
        return Int(info.pti_resident_size)
        #endif
    }
}
