#if os(Linux) && !KQUEUE_LIBKQUEUE
internal import CKQueueShims
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import SystemPackage

/// A process descriptor, one per EVFILT_PROC knote (see Syscalls.swift for the conventions).
enum PidFD {
    /// pidfd_open(2), Linux 5.3.
    static func open(_ pid: pid_t) throws(Errno) -> CInt {
        try retryingInterrupts { ckq_pidfd_open(pid, 0) }
    }

    /// The wait(2) status of an exited child, read without reaping it (`WNOWAIT`; waitid(2)
    /// with P_PIDFD, Linux 5.4).
    ///
    /// - Returns: the status, or nil when the process has not exited or the status is not
    ///   available (the process is not a child of this one, or was reaped already: ECHILD).
    static func exitStatus(_ fd: CInt) throws(Errno) -> CInt? {
        var info = siginfo_t()
        do throws(Errno) {
            _ = try retryingInterrupts {
                waitid(idtype_t(rawValue: UInt32(ckq_P_PIDFD)), id_t(fd), &info, WEXITED | WNOWAIT | WNOHANG)
            }
        } catch .noChildProcess {
            return nil
        }
        guard ckq_siginfo_pid(&info) != 0 else { return nil }
        let status = ckq_siginfo_status(&info)
        switch ckq_siginfo_code(&info) {
        case CInt(CLD_EXITED): return (status & 0xff) << 8
        case CInt(CLD_KILLED): return status & 0x7f
        case CInt(CLD_DUMPED): return status & 0x7f | 0x80
        default: return nil
        }
    }
}
#endif
