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

    /// Adds `fd` to the epoll set with `token` as the event's data.
    static func add(_ epoll: CInt, _ fd: CInt, events: UInt32, token: EpollToken) -> Errno? {
        control(epoll, EPOLL_CTL_ADD, fd, events: events, token: token)
    }

    /// Changes the events and data of `fd`'s registration.
    static func modify(_ epoll: CInt, _ fd: CInt, events: UInt32, token: EpollToken) -> Errno? {
        control(epoll, EPOLL_CTL_MOD, fd, events: events, token: token)
    }

    /// Removes `fd` from the epoll set. ENOENT and EBADF (the descriptor was closed, or
    /// names another file now) are reported to the caller, who usually ignores them.
    @discardableResult
    static func remove(_ epoll: CInt, _ fd: CInt) -> Errno? {
        var event = epoll_event()
        return retryingInterrupts { epoll_ctl(epoll, EPOLL_CTL_DEL, fd, &event) }.errno
    }

    /// Whether the epoll set holds a registration of the open file `fd` names now (see
    /// ``DescriptorFilter/namesRegisteredFile(_:_:in:)``): EPOLL_CTL_ADD fails with EEXIST
    /// exactly then. An ADD that succeeds is removed again.
    static func holdsRegistration(_ epoll: CInt, _ fd: CInt) -> Bool {
        var event = epoll_event()
        event.events = 0
        event.data.u64 = EpollToken(kind: .queue, descriptor: fd, generation: 0).rawValue
        switch retryingInterrupts({ epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) }) {
        case .failure(.fileExists):
            return true
        case .failure:
            return false
        case .success:
            remove(epoll, fd)
            return false
        }
    }

    private static func control(_ epoll: CInt, _ operation: CInt, _ fd: CInt, events: UInt32, token: EpollToken)
        -> Errno?
    {
        var event = epoll_event()
        event.events = events
        event.data.u64 = token.rawValue
        return retryingInterrupts { epoll_ctl(epoll, operation, fd, &event) }.errno
    }

    /// Waits until a descriptor in the set is ready or `timeout` (nanoseconds, nil = forever)
    /// passes, and stores the ready registrations in `events`. Returns their number; reports
    /// EINTR to the caller.
    static func wait(
        _ epoll: CInt,
        into events: UnsafeMutableBufferPointer<epoll_event>,
        timeout: Int64?
    ) -> Result<Int, Errno> {
        let result: CInt
        let capacity = CInt(events.count)
        if let timeout {
            var spec = timespec(tv_sec: Int(timeout / 1_000_000_000), tv_nsec: Int(timeout % 1_000_000_000))
            result = epoll_pwait2(epoll, events.baseAddress, capacity, &spec, nil)
        } else {
            result = epoll_pwait2(epoll, events.baseAddress, capacity, nil, nil)
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

enum SignalFD {
    /// Creates a signalfd for `signals`, or changes the set of an existing one (`fd` >= 0).
    static func set(_ fd: CInt, signals: some Sequence<CInt>) -> Result<CInt, Errno> {
        var mask = sigset_t()
        sigemptyset(&mask)
        for signal in signals { sigaddset(&mask, signal) }
        return retryingInterrupts { signalfd(fd, &mask, ckq_SFD_CLOEXEC | ckq_SFD_NONBLOCK) }
    }

    /// Reads the pending signals, calling `body` with each signal number, until none is left.
    static func drain(_ fd: CInt, _ body: (CInt) -> Void) {
        var info = signalfd_siginfo()
        let size = MemoryLayout<signalfd_siginfo>.size
        while true {
            let result = retryingInterrupts { CInt(read(fd, &info, size)) }
            guard case .success(let count) = result, count == size else { return }
            body(CInt(info.ssi_signo))
        }
    }
}

enum PidFD {
    static func open(_ pid: pid_t) -> Result<CInt, Errno> {
        retryingInterrupts { ckq_pidfd_open(pid, 0) }
    }

    /// The wait(2) status of an exited child, read without reaping it (`WNOWAIT`); nil when
    /// it is not available (the process is not a child of this one, or was reaped already).
    static func exitStatus(_ fd: CInt) -> CInt? {
        var info = siginfo_t()
        let result = retryingInterrupts {
            waitid(idtype_t(rawValue: UInt32(ckq_P_PIDFD)), id_t(fd), &info, WEXITED | WNOWAIT | WNOHANG)
        }
        guard result.isSuccess, ckq_siginfo_pid(&info) != 0 else { return nil }
        let status = ckq_siginfo_status(&info)
        switch ckq_siginfo_code(&info) {
        case CInt(CLD_EXITED): return (status & 0xff) << 8
        case CInt(CLD_KILLED): return status & 0x7f
        case CInt(CLD_DUMPED): return status & 0x7f | 0x80
        default: return nil
        }
    }
}

/// Read-only probes of a descriptor the caller registered: what it is and what it holds.
enum Descriptor {
    /// What identifies an open file: its device and inode.
    struct Identity: Equatable {
        var device: UInt64
        var inode: UInt64
    }

    /// The file a descriptor names, and its type (the `S_IFMT` bits of `st_mode`).
    static func identity(_ fd: CInt) -> Result<(identity: Identity, type: UInt32), Errno> {
        var info = stat()
        return retryingInterrupts { fstat(fd, &info) }.map { _ in
            (Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)), UInt32(info.st_mode) & UInt32(Glibc.S_IFMT))
        }
    }

    /// poll(2) with a zero timeout: the descriptor's ready events now.
    static func readiness(_ fd: CInt) -> UInt32 {
        var entry = pollfd(fd: fd, events: Int16(POLLIN | POLLOUT) | ckq_POLLRDHUP, revents: 0)
        let result = retryingInterrupts { poll(&entry, 1, 0) }
        guard case .success(1) = result else { return 0 }
        return UInt32(UInt16(bitPattern: entry.revents))
    }

    /// An `int` result of ioctl(2) (FIONREAD, SIOCOUTQ).
    static func ioctlValue(_ fd: CInt, _ request: UInt) -> Result<Int, Errno> {
        var value: CInt = 0
        return retryingInterrupts { ckq_ioctl_int(fd, request, &value) }.map { _ in Int(value) }
    }

    /// An `int` socket option at SOL_SOCKET.
    static func socketOption(_ fd: CInt, _ option: CInt) -> Result<Int, Errno> {
        var value: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        return retryingInterrupts { getsockopt(fd, SOL_SOCKET, option, &value, &length) }.map { _ in Int(value) }
    }

    /// The number of connections waiting to be accepted on a listening TCP socket
    /// (`tcpi_unacked` of TCP_INFO), nil for other sockets.
    static func acceptQueueLength(_ fd: CInt) -> Int? {
        var info = tcp_info()
        var length = socklen_t(MemoryLayout<tcp_info>.size)
        let result = retryingInterrupts { getsockopt(fd, CInt(IPPROTO_TCP), TCP_INFO, &info, &length) }
        return result.isSuccess ? Int(info.tcpi_unacked) : nil
    }

    /// The capacity of a pipe (F_GETPIPE_SZ).
    static func pipeCapacity(_ fd: CInt) -> Int? {
        let result = retryingInterrupts { ckq_fcntl(fd, ckq_F_GETPIPE_SZ) }
        if case .success(let size) = result { return Int(size) }
        return nil
    }

    /// The size of a regular file minus the descriptor's offset.
    static func bytesAfterOffset(_ fd: CInt) -> Int {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return 0 }
        let offset = lseek(fd, 0, SEEK_CUR)
        return offset < 0 ? 0 : Int(info.st_size) - Int(offset)
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
