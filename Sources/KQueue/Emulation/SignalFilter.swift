#if os(Linux) && !KQUEUE_LIBKQUEUE
internal import CKQueueShims
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import SystemPackage

/// EVFILT_SIGNAL: the queue watches its signals through the process's ``SignalDispatcher``,
/// which counts every delivery for every queue that watches the signal.
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
/// sent to one thread (`pthread_kill`) is counted when that thread calls or waits in kevent
/// on a queue that watches any signal; then every queue watching it counts it. Deliveries of
/// the same signal before it is read coalesce into one (Linux keeps one pending instance of a
/// standard signal). A signal number outside 1 ... 64 is EINVAL.
///
/// The queue's part: its knote per signal, a mailbox eventfd in its epoll set (created with
/// the first watched signal, closed with the last), and in every locked section one
/// ``SignalDispatcher/collect(_:_:)``, which reads the signalfd in the calling thread and adds
/// the queue's counts to its knotes.
enum SignalFilter: EmulatedFilter {
    static func attach(_ knote: Int32, _ change: KEvent, to queue: inout QueueState) -> Errno? {
        guard let signal = CInt(exactly: change.ident), signal >= 1, signal <= 64 else { return .invalidArgument }
        queue.knotes[knote].flags.insert(.clear)
        queue.signals[signal] = knote
        do throws(Errno) {
            try updateWatch(in: &queue)
        } catch {
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
        do throws(Errno) {
            try updateWatch(in: &queue)
        } catch {
            // Narrowing the watch (or leaving) cannot fail but by a bug.
            preconditionFailure("signal watch update failed: \(error)")
        }
    }

    static func deliver(_ knote: Int32, from queue: inout QueueState) -> KEvent? {
        queue.takeCount(knote)
    }

    /// Reads the pending signals (the process's and the calling thread's) through the
    /// dispatcher, and counts the queue's deliveries in its knotes.
    static func ready(in queue: inout QueueState) {
        guard let watch = queue.signalWatch else { return }
        watch.dispatcher.collect(watch) { signal, count in
            guard let knote = queue.signals[signal] else { return }
            queue.knotes[knote].expirations += count
            queue.knotes[knote].isActive = true
            queue.activate(knote)
        }
    }

    /// Makes the queue's registration with the dispatcher match its knotes: joins with the
    /// first watched signal (creating the mailbox), changes the mask, or leaves with the last
    /// (closing the mailbox).
    private static func updateWatch(in queue: inout QueueState) throws(Errno) {
        let signals = queue.signals.keys.reduce(UInt64(0)) { $0 | 1 << UInt64($1 - 1) }
        switch (queue.signalWatch, signals) {
        case (nil, 0):
            return
        case (let watch?, 0):
            stopWatching(watch, in: &queue)
        case (let watch?, _):
            try watch.dispatcher.change(watch, signals: signals)
        case (nil, _):
            let mailbox = try EventFD.create()
            queue.adopt(mailbox)
            let watch: SignalDispatcher.Watch
            do throws(Errno) {
                let token = EpollToken(kind: .signal, descriptor: mailbox, generation: 0)
                try Epoll.add(queue.epoll, mailbox, events: UInt32(ckq_EPOLLIN), token: token)
                watch = try SignalDispatcher.current.join(signals: signals, epoll: queue.epoll, mailbox: mailbox)
            } catch {
                closeDescriptor(mailbox)
                throw error
            }
            // The dispatcher's signalfd is the queue's own now, as long as it watches.
            queue.adopt(watch.descriptor)
            queue.signalWatch = watch
        }
    }

    /// Leaves the dispatcher and closes the mailbox (which leaves the epoll set with it).
    static func stopWatching(_ watch: SignalDispatcher.Watch, in queue: inout QueueState) {
        watch.dispatcher.leave(watch)
        closeDescriptor(watch.mailbox)
        queue.signalWatch = nil
    }
}
#endif
