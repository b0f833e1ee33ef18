#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Nanoseconds of `CLOCK_MONOTONIC`, the one clock every deadline and every lateness is taken from.
///
/// Dispatch (`DispatchTime(uptimeNanoseconds:)`) and NIO (`NIODeadline.uptimeNanoseconds`) read the
/// same clock on Linux; the Concurrency and libev peers convert from it (see their files).
enum MonotonicClock {
    static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// Sleeps the calling thread until `deadline` (monotonic ns); returns at once if it has passed.
    static func sleep(until deadline: Int64) {
        var remaining = deadline - now()
        while remaining > 0 {
            var request = timespec(tv_sec: Int(remaining / 1_000_000_000), tv_nsec: Int(remaining % 1_000_000_000))
            nanosleep(&request, nil)
            remaining = deadline - now()
        }
    }
}

extension Int64 {
    static let nanosecondsPerMillisecond: Int64 = 1_000_000
    static let nanosecondsPerSecond: Int64 = 1_000_000_000
}
