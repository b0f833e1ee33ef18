#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// CPU time and resident memory of another process (the echo server), read from /proc: what
/// `ResourceUsage` and `ResidentMemory` give for this process, sampled from the outside.
struct ProcessSample {
    /// User + system CPU time of all the process's threads, nanoseconds (`utime` + `stime` of
    /// `/proc/PID/stat`, in clock ticks of usually 10 ms).
    var cpuNanoseconds: Int64
    /// `VmRSS` of `/proc/PID/status`, bytes.
    var residentBytes: Int

    /// The sample of `pid` now; nil once it has exited.
    static func current(of pid: pid_t) -> ProcessSample? {
        guard let cpu = cpuNanoseconds(of: pid), let rss = statusField("VmRSS", of: pid) else { return nil }
        // "VmRSS:	   12345 kB"
        guard let kilobytes = Int(rss.split(separator: " ").first ?? "") else { return nil }
        return ProcessSample(cpuNanoseconds: cpu, residentBytes: kilobytes * 1_024)
    }

    private static func cpuNanoseconds(of pid: pid_t) -> Int64? {
        guard let stat = contents(of: "/proc/\(pid)/stat"),
            let close = stat.lastIndex(of: UInt8(ascii: ")"))
        else { return nil }
        // After "pid (comm)", which may hold spaces: state is field 3, utime 14 and stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: UInt8(ascii: " "))
        guard fields.count > 12, let user = Int64(String(decoding: fields[11], as: UTF8.self)),
            let system = Int64(String(decoding: fields[12], as: UTF8.self))
        else { return nil }
        let ticksPerSecond = Int64(sysconf(Int32(_SC_CLK_TCK)))
        return (user + system) * 1_000_000_000 / max(ticksPerSecond, 1)
    }

    /// The value of `name` in `/proc/PID/status`, trimmed (e.g. "12345 kB").
    static func statusField(_ name: String, of pid: pid_t) -> String? {
        guard let status = contents(of: "/proc/\(pid)/status") else { return nil }
        for line in String(decoding: status, as: UTF8.self).split(separator: "\n") where line.hasPrefix(name + ":") {
            return String(line.dropFirst(name.count + 1).drop(while: { $0 == " " || $0 == "\t" }))
        }
        return nil
    }

    private static func contents(of path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 8_192)
        var length = 0
        while length < buffer.count {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + length, $0.count - length) }
            if count <= 0 { break }
            length += count
        }
        return length > 0 ? Array(buffer[..<length]) : nil
    }
}
