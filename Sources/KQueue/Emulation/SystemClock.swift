#if os(Linux) && !KQUEUE_LIBKQUEUE
internal import CKQueueShims
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// The clocks the emulation reads, in nanoseconds.
///
/// Relative timers run on CLOCK_MONOTONIC (it stops while the machine is suspended, like
/// the default clock of macOS's kqueue). Absolute deadlines are given on CLOCK_REALTIME
/// and converted once, when they are registered.
enum SystemClock {
    /// Nanoseconds on CLOCK_MONOTONIC, the timeline of every timer deadline (``TimerClock``).
    static func monotonic() -> Int64 {
        TimerClock.now()
    }

    /// Nanoseconds since the Unix epoch on CLOCK_REALTIME.
    static func realtime() -> Int64 {
        read(CLOCK_REALTIME)
    }

    private static func read(_ clock: clockid_t) -> Int64 {
        var now = timespec()
        let result = clock_gettime(clock, &now)
        precondition(result == 0, "clock_gettime failed")
        return Int64(now.tv_sec) &* 1_000_000_000 &+ Int64(now.tv_nsec)
    }
}
#endif
