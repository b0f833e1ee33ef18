internal import CKQueueShims
#if KQUEUE_LIBKQUEUE
internal import CLibkqueue  // which declares timespec, too, under the Libkqueue trait
#endif
#if canImport(Darwin)
import Darwin
#elseif canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// The clock relative EVFILT_TIMER events run on, in nanoseconds: CLOCK_UPTIME_RAW
/// (mach_absolute_time) on Darwin, CLOCK_MONOTONIC elsewhere (the emulation's timerfd, and
/// libkqueue's). Both stop while the machine is suspended. Code that arms a kernel timer at
/// an instant reads this clock, so that the instant and the kernel agree.
package enum TimerClock {
    package static func now() -> Int64 {
        #if canImport(Darwin)
        return Int64(clock_gettime_nsec_np(CLOCK_UPTIME_RAW))
        #else
        var now = timespec()
        let result = clock_gettime(CLOCK_MONOTONIC, &now)
        precondition(result == 0, "clock_gettime(CLOCK_MONOTONIC) failed")
        return Int64(now.tv_sec) &* 1_000_000_000 &+ Int64(now.tv_nsec)
        #endif
    }
}

/// How precisely the kernel ends the calling thread's timed waits.
package enum TimerSlack {
    /// Asks the kernel to end the calling thread's timed waits (such as a kevent timeout) as
    /// close to their end as it can: 1 ns of slack instead of Linux's default 50 µs, which the
    /// kernel would otherwise add to every wait to group wake-ups. A thread that chooses its
    /// own wake-ups, within its timers' tolerances, does the grouping itself. Nothing to do on
    /// Darwin, whose kevent timeouts carry no such default.
    package static func makePrecise() {
        #if os(Linux)
        _ = ckq_set_timer_slack(1)
        #endif
    }
}
