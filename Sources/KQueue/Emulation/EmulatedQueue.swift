#if os(Linux) && !KQUEUE_LIBKQUEUE
internal import CKQueueShims
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import Synchronization
import SystemPackage

/// kqueue(2) emulated on Linux: the kevent() algorithm of the darwin profile over one
/// epoll descriptor.
///
/// The epoll descriptor is the queue's descriptor. The queue keeps two descriptors inside
/// it: an eventfd that is readable exactly while events are ready, and one timerfd armed at
/// the earliest timer deadline. The filters add their sources: watched descriptors
/// (edge-triggered), pidfds, the process's signalfd and the queue's signal mailbox (see
/// ``SignalDispatcher``). So the queue's descriptor is readable in poll(2) while an event is
/// pending (or a source has news not yet looked at), and a thread blocked in
/// ``kevent(changes:events:timeout:)`` wakes when another thread triggers an event or arms an
/// earlier timer, or a source becomes ready. The lock is never held while waiting; each
/// locked section first harvests what epoll reported (without blocking) into the knotes.
/// A waiting thread only learns that the set has something ready (poll(2) on the epoll
/// descriptor) and takes nothing from it: an event taken outside the lock could be recorded
/// after another thread had already delivered (and cleared) the change it reports, and would
/// deliver that change a second time. A queue that watches signals also has its waiting
/// threads poll the signalfd itself, which each thread sees with its own pending signals.
///
/// A child created by fork(2) cannot use its copy of a queue: every call reports EBADF, as
/// on macOS, where a queue is not inherited. (Linux children inherit the epoll set, one
/// kernel object shared with the parent, and a copy of the state; a child that went on using
/// them would take the parent's events.) The child's copies of the descriptors stay open
/// until it closes the queue or execs: they are close-on-exec.
final class EmulatedQueue: Sendable {
    private let epoll: CInt
    private let wakeup: CInt
    private let timer: CInt
    private let state: Locked<QueueState>
    /// The process that created the queue; a child forked since cannot use it.
    private let owner: pid_t
    /// The ``ForkEpoch`` at which `owner` was last confirmed to be this process.
    private let confirmedEpoch: Atomic<UInt64>
    /// Waits with poll(2), in whole milliseconds, instead of ppoll(2) in nanoseconds, for tests.
    private let waitsInWholeMilliseconds: Bool

    /// How many epoll events one epoll_wait harvests: 64 × 12 bytes, small enough for
    /// `withUnsafeTemporaryAllocation` to use the stack (no allocation per call).
    private static let harvestCapacity = 64

    init(waitsInWholeMilliseconds: Bool = false) throws(Errno) {
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
        self.state = Locked(QueueState(epoll: epoll, wakeup: wakeup, timer: timer))
        self.confirmedEpoch = Atomic(ForkEpoch.current)
        self.owner = getpid()
        self.waitsInWholeMilliseconds = waitsInWholeMilliseconds
    }

    deinit {
        state.withLock { state in
            if !state.isClosed { closeDescriptors(&state) }
        }
    }

    /// Whether this process is a child forked since the queue was created. The pid decides;
    /// the fork count spares the getpid(2) call while no fork has happened.
    private var isInherited: Bool {
        let epoch = ForkEpoch.current
        if epoch == confirmedEpoch.load(ordering: .relaxed) { return false }
        if getpid() != owner { return true }
        confirmedEpoch.store(epoch, ordering: .relaxed)
        return false
    }

    var descriptor: CInt {
        if isInherited { return -1 }
        return state.withLock { $0.isClosed ? -1 : epoll }
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
                closeDescriptors(&state)
            } else {
                // Wake every waiter; the last one to leave closes the descriptors.
                EventFD.signal(wakeup)
            }
        }
    }

    /// - Parameter timeout: nanoseconds, already validated; nil waits forever.
    func kevent(changes: [KEvent], events: inout [KEvent], timeout: Int64?) throws(Errno) -> Int {
        guard !isInherited else { throw .badFileDescriptor }
        return try withUnsafeTemporaryAllocation(of: epoll_event.self, capacity: Self.harvestCapacity) {
            (buffer) throws(Errno) -> Int in
            try kevent(changes: changes, events: &events, timeout: timeout, harvest: buffer)
        }
    }

    private func kevent(
        changes: [KEvent],
        events: inout [KEvent],
        timeout: Int64?,
        harvest buffer: UnsafeMutableBufferPointer<epoll_event>
    ) throws(Errno) -> Int {
        var endTime: Int64?
        var isWaiting = false
        // The signalfd, polled by a waiting thread beside the epoll set (-1 for none).
        var signalDescriptor: CInt = -1
        while true {
            let collected: Int? = try state.withLock { (state) throws(Errno) -> Int? in
                if isWaiting {
                    state.waiters -= 1
                }
                guard !state.isClosed else {
                    if isWaiting && state.waiters == 0 { closeDescriptors(&state) }
                    throw .badFileDescriptor
                }
                state.beginPass()
                defer { state.synchronize(wakeup: wakeup, timer: timer) }

                if !isWaiting {
                    let written = try applyChanges(changes, into: &events, state: &state)
                    if written > 0 || events.isEmpty { return written }
                    if let timeout, endTime == nil { endTime = state.now.addingSaturating(timeout) }
                }
                harvest(buffer, into: &state, room: events.count)
                let count = state.collect(into: &events)
                if count > 0 { return count }
                if let endTime, endTime <= state.now { return 0 }
                state.waiters += 1
                signalDescriptor = state.signalWatch?.descriptor ?? -1
                return nil
            }
            if let collected { return collected }

            isWaiting = true
            let remaining = endTime.map { max($0 - SystemClock.monotonic(), 0) }
            do throws(Errno) {
                try Epoll.waitUntilReady(
                    epoll,
                    or: signalDescriptor,
                    timeout: remaining,
                    wholeMilliseconds: waitsInWholeMilliseconds
                )
            } catch {
                state.withLock { state in
                    state.waiters -= 1
                    if state.isClosed && state.waiters == 0 { closeDescriptors(&state) }
                }
                throw error
            }
        }
    }

    /// Records everything epoll has ready (without blocking) into the knotes.
    ///
    /// The sources are edge-triggered: an event is taken from epoll only here, under the lock,
    /// and recorded before the lock is released, so none is lost between threads, and none is
    /// recorded after a delivery that already reported its change. The queue's own eventfd and
    /// timerfd say nothing the state does not know: without sources the set is not read.
    ///
    /// A queue that watches signals reads the signalfd first, whatever epoll says: signalfd(2)
    /// reads the signals of the calling thread too, so a signal sent to this thread is counted
    /// even when epoll, which looked at the signalfd from another thread, dropped its event.
    ///
    /// It stops once as many knotes are queued as the call has `room` for: an event it left in
    /// epoll stays there for the next call (the sources are edge-triggered, and epoll keeps a
    /// reported edge until it is taken), while a knote recorded now and delivered by a later
    /// call would be looked at again then, at the cost of a second probe of its descriptor.
    private func harvest(_ buffer: UnsafeMutableBufferPointer<epoll_event>, into state: inout QueueState, room: Int) {
        guard state.watchesSources else { return }
        SignalFilter.ready(in: &state)
        while state.knotes.readyCount < room {
            let wanted = min(buffer.count, room - state.knotes.readyCount)
            let ready = Epoll.ready(epoll, into: UnsafeMutableBufferPointer(rebasing: buffer[..<wanted]))
            guard ready > 0 else { break }
            state.record(UnsafeMutableBufferPointer(rebasing: buffer[..<ready]))
            if ready < wanted { break }
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
        // No room for any entry: the first failure throws, receipts are dropped. A loop of its
        // own, so that a call without an events buffer never asks for a uniquely referenced
        // one (the empty array's shared storage is never unique: the check would copy it).
        if events.isEmpty {
            for change in changes {
                if let error = state.apply(change) { throw error }
            }
            return 0
        }
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

    private func closeDescriptors(_ state: inout QueueState) {
        // A child leaves the parent's dispatcher alone (it shares the parent's epoll sets, and
        // the dispatcher's lock may have been held when it forked); it closes its copies only.
        if let watch = state.signalWatch, !isInherited { watch.dispatcher.leave(watch) }
        for fd in state.ownedDescriptors { closeDescriptor(fd) }
        closeDescriptor(timer)
        closeDescriptor(wakeup)
        closeDescriptor(epoll)
    }
}
#endif
