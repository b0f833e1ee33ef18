#if os(Linux)
import CBenchmarkShims
import Glibc

/// The CPUs the calling thread may run on. A process started from a thread inherits that
/// thread's mask, so the echo workload pins its own thread to a CPU, starts a process there and
/// restores the mask: the child and every thread it ever creates stay on that CPU, from the
/// first instruction (no race with threads it starts before a `sched_setaffinity(pid)` could
/// reach them).
enum CPUAffinity {
    /// Runs `body` with the calling thread restricted to `cpu` (nil: unchanged), then restores
    /// the thread's mask. Returns false, after running `body` unpinned, if the mask cannot be set.
    @discardableResult
    static func withThread<T>(pinnedTo cpu: Int?, _ body: () throws -> T) rethrows -> (T, pinned: Bool) {
        guard let cpu else { return (try body(), false) }
        var saved = [UInt8](repeating: 0, count: cbench_cpu_set_size())
        guard cbench_get_affinity(&saved) == 0 else { return (try body(), false) }
        guard cbench_pin_to_cpu(CInt(cpu)) == 0 else { return (try body(), false) }
        defer { _ = cbench_set_affinity(saved) }
        return (try body(), true)
    }

    /// The CPUs process `pid` may run on, as `/proc/PID/status` writes them (`Cpus_allowed_list`,
    /// e.g. "1" or "0-1"); nil if it cannot be read.
    static func allowedList(of pid: pid_t) -> String? {
        ProcessSample.statusField("Cpus_allowed_list", of: pid)
    }
}
#endif
