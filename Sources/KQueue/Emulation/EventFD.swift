#if os(Linux) && !KQUEUE_LIBKQUEUE
internal import CKQueueShims
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import SystemPackage

/// An eventfd: the queue's wake-up, readable exactly while events are ready, and its signal
/// mailbox, readable while another queue's thread left it signal counts (see
/// ``SignalDispatcher``). See Syscalls.swift for the conventions.
enum EventFD {
    static func create() throws(Errno) -> CInt {
        try retryingInterrupts { eventfd(0, ckq_EFD_CLOEXEC | ckq_EFD_NONBLOCK) }
    }

    /// Makes the eventfd readable.
    static func signal(_ fd: CInt) {
        var one: UInt64 = 1
        do throws(Errno) {
            let written = try retryingInterrupts { CInt(write(fd, &one, 8)) }
            precondition(written == 8, "eventfd write of \(written) bytes")
        } catch .wouldBlock {
            // The counter is saturated, which still reads as "signalled".
        } catch {
            preconditionFailure("eventfd write failed: \(error)")
        }
    }

    /// Makes the eventfd unreadable again.
    static func drain(_ fd: CInt) {
        var count: UInt64 = 0
        do throws(Errno) {
            let read = try retryingInterrupts { CInt(Glibc.read(fd, &count, 8)) }
            precondition(read == 8, "eventfd read of \(read) bytes")
        } catch .wouldBlock {
            // Not readable: already drained.
        } catch {
            preconditionFailure("eventfd read failed: \(error)")
        }
    }
}
#endif
