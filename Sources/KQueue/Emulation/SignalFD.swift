#if os(Linux) && !KQUEUE_LIBKQUEUE
internal import CKQueueShims
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import SystemPackage

/// The process's signalfd, kept by ``SignalDispatcher`` (see Syscalls.swift for the conventions).
enum SignalFD {
    /// Creates a signalfd for `signals`, or changes the set of an existing one (`fd` >= 0).
    ///
    /// - Returns: the descriptor.
    static func set(_ fd: CInt, signals: some Sequence<CInt>) throws(Errno) -> CInt {
        var mask = sigset_t()
        _ = sigemptyset(&mask)
        for signal in signals {
            // The filter admits 1 ... 64 only, which sigaddset accepts.
            precondition(sigaddset(&mask, signal) == 0, "sigaddset(\(signal)) failed")
        }
        return try retryingInterrupts { signalfd(fd, &mask, ckq_SFD_CLOEXEC | ckq_SFD_NONBLOCK) }
    }

    /// Reads the pending signals, calling `body` with each signal number, until none is left.
    static func drain(_ fd: CInt, _ body: (CInt) -> Void) {
        var info = signalfd_siginfo()
        let size = MemoryLayout<signalfd_siginfo>.size
        while true {
            do throws(Errno) {
                let count = try retryingInterrupts { CInt(read(fd, &info, size)) }
                precondition(count == size, "signalfd read of \(count) bytes")
                body(CInt(info.ssi_signo))
            } catch .wouldBlock {
                return
            } catch {
                preconditionFailure("signalfd read failed: \(error)")
            }
        }
    }
}
#endif
