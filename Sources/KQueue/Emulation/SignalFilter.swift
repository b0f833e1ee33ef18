#if os(Linux) && !KQUEUE_LIBKQUEUE
internal import CKQueueShims
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import SystemPackage

/// EVFILT_SIGNAL: one signalfd per queue, whose mask is the set of signals the queue watches.
///
/// `ident` is the signal number; EV_CLEAR is always set; `data` counts the deliveries since
/// the last retrieval, also while the knote is disabled (they are returned at EV_ENABLE).
///
/// Unlike on macOS, the emulation takes the signal: signalfd(2) sees only a signal that is
/// blocked, so **the program must block every watched signal in every thread**
/// (`sigprocmask` / `pthread_sigmask` before creating threads); the emulation does not change
/// any signal mask. A signal that reaches a thread where it is not blocked runs its handler
/// (or its default action) and is not counted. A counted signal is consumed: its handler does
/// not run and its default action does not happen (on macOS both still happen). A signal
/// sent to one thread (`pthread_kill`) is seen only while that thread waits in or calls
/// kevent. Deliveries of the same signal before the queue reads it coalesce into one (Linux
/// keeps one pending instance of a standard signal). When several queues watch one signal,
/// each delivery is counted by one of them. A signal number outside 1 ... 64 is EINVAL.
enum SignalFilter: EmulatedFilter {
    static func attach(_ knote: Int32, _ change: KEvent, to queue: inout QueueState) -> Errno? {
        guard let signal = CInt(exactly: change.ident), signal >= 1, signal <= 64 else { return .invalidArgument }
        queue.knotes[knote].flags.insert(.clear)
        queue.signals[signal] = knote
        if let error = updateMask(in: &queue) {
            queue.signals[signal] = nil
            return error
        }
        return nil
    }

    static func touch(_ knote: Int32, _ change: KEvent, in queue: inout QueueState) -> Errno? {
        nil
    }

    static func update(_ knote: Int32, in queue: inout QueueState) {}

    static func detach(_ knote: Int32, from queue: inout QueueState) {
        queue.signals[CInt(queue.knotes[knote].ident)] = nil
        // Narrowing the mask of the queue's existing signalfd cannot fail but by a bug.
        if let error = updateMask(in: &queue) { preconditionFailure("signalfd mask update failed: \(error)") }
    }

    static func deliver(_ knote: Int32, from queue: inout QueueState) -> KEvent? {
        queue.takeCount(knote)
    }

    /// Reads every pending watched signal and counts it in its knote.
    static func ready(in queue: inout QueueState) {
        guard queue.signalDescriptor >= 0 else { return }
        SignalFD.drain(queue.signalDescriptor) { signal in
            guard let knote = queue.signals[signal] else { return }
            queue.knotes[knote].expirations += 1
            queue.knotes[knote].isActive = true
            queue.activate(knote)
        }
    }

    /// Gives the signalfd the mask of the watched signals, creating it (in the epoll set) for
    /// the first one.
    private static func updateMask(in queue: inout QueueState) -> Errno? {
        let fd: CInt
        do throws(Errno) {
            fd = try SignalFD.set(queue.signalDescriptor, signals: queue.signals.keys)
        } catch {
            return error
        }
        guard queue.signalDescriptor < 0 else { return nil }
        queue.adopt(fd)
        do throws(Errno) {
            try Epoll.add(queue.epoll, fd, events: UInt32(ckq_EPOLLIN), token: EpollToken(kind: .signal, descriptor: fd, generation: 0))
        } catch {
            closeDescriptor(fd)
            return error
        }
        queue.signalDescriptor = fd
        return nil
    }
}
#endif
