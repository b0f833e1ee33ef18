#if os(Linux) && !KQUEUE_LIBKQUEUE
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import SystemPackage

// The Linux system calls the emulation stands on, one thin wrapper each, one file per kernel
// object (Epoll, EventFD, TimerFD, SignalFD, PidFD) and one for the probes of a watched
// descriptor (Descriptor).
//
// One convention: a wrapper throws the call's `Errno`, and its caller decides what an error
// means. Only a call on a descriptor the queue owns, where a failure can only be a bug (a
// wake-up eventfd that cannot be written, a timerfd that cannot be armed), checks its result
// with a precondition instead; and a probe whose answer is an errno (EEXIST for
// Epoll.holdsRegistration) returns that answer as a value. EINTR is retried where a retry is
// safe and the call does not wait; the waiting call (ppoll / poll on the epoll descriptor) reports it.

/// Runs `body` until it does not fail with EINTR; a failure (-1) throws `errno`.
@inline(__always)
func retryingInterrupts(_ body: () -> CInt) throws(Errno) -> CInt {
    while true {
        let result = body()
        if result != -1 { return result }
        let error = Errno(rawValue: errno)
        if error != .interrupted { throw error }
    }
}

/// Closes a descriptor the emulation owns. EINTR still means closed on Linux, so it is not
/// retried; EBADF would mean the emulation closed it twice.
func closeDescriptor(_ fd: CInt) {
    let result = Glibc.close(fd)
    let error = errno
    precondition(result == 0 || error != EBADF, "close(\(fd)): the descriptor was not open")
}
#endif
