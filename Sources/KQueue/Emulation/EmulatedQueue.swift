#if os(Linux) && !KQUEUE_LIBKQUEUE
internal import CKQueueShims
import SystemPackage

/// kqueue(2) emulated on Linux: the kevent() algorithm of the darwin profile over one
/// epoll descriptor.
///
/// The epoll descriptor is the queue's descriptor. Two descriptors live inside it: an
/// eventfd that is readable exactly while events are ready, and one timerfd armed at the
/// earliest timer deadline. So the queue's descriptor is readable in poll(2) while an
/// event is pending, and a thread blocked in ``kevent(changes:events:timeout:)`` wakes when
/// another thread triggers an event or arms an earlier timer. The lock is never held while
/// waiting.
final class EmulatedQueue: Sendable {
    private let epoll: CInt
    private let wakeup: CInt
    private let timer: CInt
    private let state = Locked(QueueState())

    init() throws(Errno) {
        let epoll = try Epoll.create()
        var wakeup: CInt = -1
        var timer: CInt = -1
        do throws(Errno) {
            wakeup = try EventFD.create()
            timer = try TimerFD.create()
            try Epoll.add(epoll, wakeup, events: UInt32(ckq_EPOLLIN))
            try Epoll.add(epoll, timer, events: UInt32(ckq_EPOLLIN))
        } catch {
            for fd in [epoll, wakeup, timer] where fd >= 0 { closeDescriptor(fd) }
            throw error
        }
        self.epoll = epoll
        self.wakeup = wakeup
        self.timer = timer
    }

    deinit {
        let closed = state.withLock { $0.isClosed }
        if !closed { closeDescriptors() }
    }

    var descriptor: CInt {
        state.withLock { $0.isClosed ? -1 : epoll }
    }

    /// The number of registered knotes.
    var count: Int {
        state.withLock { $0.knotes.count }
    }

    func close() {
        state.withLock { state in
            guard !state.isClosed else { return }
            state.isClosed = true
            if state.waiters == 0 {
                closeDescriptors()
            } else {
                // Wake every waiter; the last one to leave closes the descriptors.
                EventFD.signal(wakeup)
            }
        }
    }

    /// - Parameter timeout: nanoseconds, already validated; nil waits forever.
    func kevent(changes: [KEvent], events: inout [KEvent], timeout: Int64?) throws(Errno) -> Int {
        var endTime: Int64?
        var isWaiting = false
        while true {
            let collected: Int? = try state.withLock { (state) throws(Errno) -> Int? in
                if isWaiting {
                    state.waiters -= 1
                }
                guard !state.isClosed else {
                    if isWaiting && state.waiters == 0 { closeDescriptors() }
                    throw .badFileDescriptor
                }
                state.now = SystemClock.monotonic()
                defer { state.synchronize(wakeup: wakeup, timer: timer) }

                if !isWaiting {
                    let written = try applyChanges(changes, into: &events, state: &state)
                    if written > 0 || events.isEmpty { return written }
                    if let timeout, endTime == nil { endTime = state.now.addingSaturating(timeout) }
                }
                let count = state.collect(into: &events)
                if count > 0 { return count }
                if let endTime, endTime <= state.now { return 0 }
                state.waiters += 1
                return nil
            }
            if let collected { return collected }

            isWaiting = true
            let remaining = endTime.map { max($0 - SystemClock.monotonic(), 0) }
            if case .failure(let error) = Epoll.wait(epoll, timeout: remaining) {
                state.withLock { state in
                    state.waiters -= 1
                    if state.isClosed && state.waiters == 0 { closeDescriptors() }
                }
                throw error
            }
        }
    }

    /// Applies the changes in order, writing an EV_ERROR entry for each failure and each
    /// EV_RECEIPT.
    ///
    /// - Returns: the number of entries written.
    /// - Throws: the error of a failed change when no room is left for its entry (the changes
    ///   before it stay applied, the ones after it are not applied). A receipt with no room is
    ///   dropped and processing goes on (darwin).
    private func applyChanges(
        _ changes: [KEvent],
        into events: inout [KEvent],
        state: inout QueueState
    ) throws(Errno) -> Int {
        var written = 0
        for change in changes {
            let error = state.apply(change)
            guard error != nil || change.flags.contains(.receipt) else { continue }
            guard written < events.count else {
                if let error { throw error }
                continue
            }
            var entry = change
            entry.flags.subtract(.system)
            entry.flags.insert(.error)
            entry.data = Int(error?.rawValue ?? 0)
            events[written] = entry
            written += 1
        }
        return written
    }

    private func closeDescriptors() {
        closeDescriptor(timer)
        closeDescriptor(wakeup)
        closeDescriptor(epoll)
    }
}
#endif
