#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// CPU time and context switches of the whole process (all threads), from `getrusage(RUSAGE_SELF)`.
struct ResourceUsage {
    /// User + system CPU time, nanoseconds.
    var cpuNanoseconds: Int64
    /// Voluntary + involuntary context switches (`ru_nvcsw + ru_nivcsw`).
    var contextSwitches: Int

    static func current() -> ResourceUsage {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func nanoseconds(_ t: timeval) -> Int64 { Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_usec) * 1_000 }
        return ResourceUsage(
            cpuNanoseconds: nanoseconds(usage.ru_utime) + nanoseconds(usage.ru_stime),
            contextSwitches: usage.ru_nvcsw + usage.ru_nivcsw
        )
    }

    static func - (after: ResourceUsage, before: ResourceUsage) -> ResourceUsage {
        ResourceUsage(
            cpuNanoseconds: after.cpuNanoseconds - before.cpuNanoseconds,
            contextSwitches: after.contextSwitches - before.contextSwitches
        )
    }
}

/// Resident set size of this process in bytes, from the second field of `/proc/self/statm`.
enum ResidentMemory {
    static func bytes() -> Int {
        let descriptor = open("/proc/self/statm", O_RDONLY)
        guard descriptor >= 0 else { return 0 }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let length = read(descriptor, &buffer, buffer.count)
        guard length > 0 else { return 0 }
        // "size resident shared text lib data dt", in pages.
        let fields = buffer[..<length].split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let residentPages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
        return residentPages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
