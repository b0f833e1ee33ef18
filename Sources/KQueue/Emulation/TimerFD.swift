#if os(Linux) && !KQUEUE_LIBKQUEUE
internal import CKQueueShims
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import SystemPackage

/// The queue's timerfd, armed at the earliest timer deadline (see Syscalls.swift for the
/// conventions).
enum TimerFD {
    static func create() throws(Errno) -> CInt {
        try retryingInterrupts { timerfd_create(CLOCK_MONOTONIC, ckq_TFD_CLOEXEC | ckq_TFD_NONBLOCK) }
    }

    /// Arms the timer at an absolute CLOCK_MONOTONIC deadline in nanoseconds, or disarms it
    /// with nil. Setting the timer also clears a previous expiration, so the descriptor
    /// stops being readable until the new deadline.
    static func arm(_ fd: CInt, at deadline: Int64?) {
        var spec = itimerspec()
        if let deadline {
            // A zero it_value would disarm; the earliest meaningful deadline is 1 ns.
            let value = max(deadline, 1)
            spec.it_value = timespec(tv_sec: Int(value / 1_000_000_000), tv_nsec: Int(value % 1_000_000_000))
        }
        do throws(Errno) {
            _ = try retryingInterrupts { timerfd_settime(fd, ckq_TFD_TIMER_ABSTIME, &spec, nil) }
        } catch {
            preconditionFailure("timerfd_settime failed: \(error)")
        }
    }
}
#endif
