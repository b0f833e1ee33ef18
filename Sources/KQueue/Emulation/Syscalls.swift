#if os(Linux) && !KQUEUE_LIBKQUEUE
internal import CKQueueShims
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import SystemPackage

// The Linux system calls the emulation stands on, one thin wrapper each.
// Every result is checked. EINTR is retried where a retry is safe and the call cannot
// block (eventfd and timerfd reads and writes, epoll_ctl); the waiting call reports it.

/// Runs `body` until it does not fail with EINTR; a failure becomes an `Errno`.
@inline(__always)
func retryingInterrupts(_ body: () -> CInt) -> Result<CInt, Errno> {
    while true {
        let result = body()
        if result != -1 { return .success(result) }
        let error = Errno(rawValue: errno)
        if error != .interrupted { return .failure(error) }
    }
}

enum Epoll {
    static func create() throws(Errno) -> CInt {
        try retryingInterrupts { epoll_create1(ckq_EPOLL_CLOEXEC) }.get()
    }

    /// Adds `fd` to the epoll set, level-triggered, with `fd` itself as the event's data.
    static func add(_ epoll: CInt, _ fd: CInt, events: UInt32) throws(Errno) {
        var event = epoll_event()
        event.events = events
        event.data.fd = fd
        _ = try retryingInterrupts { epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) }.get()
    }

    /// Waits until a descriptor in the set is ready or `timeout` (nanoseconds, nil = forever)
    /// passes. Returns the number of ready descriptors; reports EINTR to the caller.
    static func wait(_ epoll: CInt, timeout: Int64?) -> Result<Int, Errno> {
        var event = epoll_event()
        let result: CInt
        if let timeout {
            var spec = timespec(tv_sec: Int(timeout / 1_000_000_000), tv_nsec: Int(timeout % 1_000_000_000))
            result = epoll_pwait2(epoll, &event, 1, &spec, nil)
        } else {
            result = epoll_pwait2(epoll, &event, 1, nil, nil)
        }
        return result == -1 ? .failure(Errno(rawValue: errno)) : .success(Int(result))
    }
}

enum EventFD {
    static func create() throws(Errno) -> CInt {
        try retryingInterrupts { eventfd(0, ckq_EFD_CLOEXEC | ckq_EFD_NONBLOCK) }.get()
    }

    /// Makes the eventfd readable.
    static func signal(_ fd: CInt) {
        var one: UInt64 = 1
        let result = retryingInterrupts { CInt(write(fd, &one, 8)) }
        // EAGAIN means the counter is saturated, which still reads as "signalled".
        precondition(result.isSuccess || result.errno == .wouldBlock, "eventfd write failed: \(result)")
    }

    /// Makes the eventfd unreadable again.
    static func drain(_ fd: CInt) {
        var count: UInt64 = 0
        let result = retryingInterrupts { CInt(read(fd, &count, 8)) }
        precondition(result.isSuccess || result.errno == .wouldBlock, "eventfd read failed: \(result)")
    }
}

enum TimerFD {
    static func create() throws(Errno) -> CInt {
        try retryingInterrupts { timerfd_create(CLOCK_MONOTONIC, ckq_TFD_CLOEXEC | ckq_TFD_NONBLOCK) }.get()
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
        let result = retryingInterrupts { timerfd_settime(fd, ckq_TFD_TIMER_ABSTIME, &spec, nil) }
        precondition(result.isSuccess, "timerfd_settime failed: \(result)")
    }
}

/// Closes a descriptor the emulation owns. EINTR still means closed on Linux, so it is not retried.
func closeDescriptor(_ fd: CInt) {
    _ = Glibc.close(fd)
}

extension Result {
    var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}

extension Result where Failure == Errno {
    var errno: Errno? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
#endif
