#if os(Linux) && !KQUEUE_LIBKQUEUE
internal import CKQueueShims
import SystemPackage

/// Everything an emulated queue knows, guarded by its lock: the knotes, the armed timers, the
/// sources in the epoll set, and what the queue's internal descriptors currently say.
struct QueueState {
    /// The queue's epoll descriptor, in which filters register their sources.
    let epoll: CInt
    /// The queue's wake-up eventfd and timerfd (owned by ``EmulatedQueue``).
    let wakeup: CInt
    let timer: CInt
    var knotes = KnoteTable()
    var timers = DeadlineHeap()
    /// EVFILT_READ / EVFILT_WRITE: the watched descriptors, by number.
    var descriptors: [CInt: DescriptorRegistration] = [:]
    /// EVFILT_WRITE: the epoll set of the write registrations, nested in `epoll`; -1 until the
    /// first write knote of a descriptor in the epoll set (see ``DescriptorFilter``).
    var writeEpoll: CInt = -1
    /// EVFILT_SIGNAL: the knote of each watched signal.
    var signals: [CInt: Int32] = [:]
    /// EVFILT_SIGNAL: the queue's registration with the process's ``SignalDispatcher`` (its
    /// signalfd and the queue's mailbox), nil while no signal is watched.
    var signalWatch: SignalDispatcher.Watch?
    /// EVFILT_PROC: the pidfds, by descriptor.
    var processes: [CInt: ProcessRegistration] = [:]
    /// EVFILT_VNODE and a regular file's EVFILT_READ: the inotify descriptor and its watches.
    var files = FileWatches()
    /// The generation of the latest epoll registration (see ``EpollToken``).
    private var generation: UInt32 = 0
    /// Counts the locked sections, so a descriptor knote is evaluated once per pass.
    var pass: UInt32 = 1
    /// CLOCK_MONOTONIC, read once at the start of each locked section.
    var now: Int64 = 0
    /// The deadline the timerfd is armed at, nil when disarmed.
    var armedDeadline: Int64?
    /// Whether the wake-up eventfd is readable (it is exactly while the ready queue is not empty).
    var isSignalled = false
    var isClosed = false
    /// Threads blocked in epoll_wait on this queue.
    var waiters = 0

    init(epoll: CInt, wakeup: CInt, timer: CInt) {
        self.epoll = epoll
        self.wakeup = wakeup
        self.timer = timer
    }

    /// Whether `fd` is one of the descriptors the queue keeps in its epoll set: the wake-up
    /// eventfd, the timerfd, the process's signalfd and the queue's signal mailbox (while it
    /// watches a signal), the write set, a pidfd or the inotify descriptor. A user's change
    /// never reaches them (see ``DescriptorFilter/validate(_:in:)``); the epoll descriptor
    /// itself is not listed, since watching a queue in itself is EINVAL, as the kernel reports
    /// it.
    func owns(_ fd: CInt) -> Bool {
        fd == wakeup || fd == timer || fd == signalWatch?.descriptor || fd == signalWatch?.mailbox
            || fd == writeEpoll || processes[fd] != nil || fd == files.descriptor
    }

    /// Takes a descriptor the queue has just opened (the signal mailbox, a pidfd, the inotify
    /// descriptor), or the process's signalfd when the queue starts watching signals, for its
    /// own. Its number may have been a watched descriptor that was closed without EV_DELETE:
    /// those knotes are dropped now, so that a user's registration and the queue's descriptors
    /// never share a number.
    mutating func adopt(_ fd: CInt) {
        DescriptorFilter.forget(fd, in: &self)
        VnodeFilter.forget(descriptor: fd, in: &self)
    }

    /// Whether anything but the queue's own descriptors is in the epoll set.
    var watchesSources: Bool {
        !descriptors.isEmpty || !processes.isEmpty || signalWatch != nil || files.descriptor >= 0
    }

    /// A generation for a new epoll registration.
    mutating func makeGeneration() -> UInt32 {
        generation = (generation &+ 1) & EpollToken.generationMask
        return generation
    }

    /// Starts a locked section: reads the clock and begins a new evaluation pass.
    mutating func beginPass() {
        now = SystemClock.monotonic()
        pass &+= 1
    }

    /// Records harvested epoll events in the knotes of their sources.
    mutating func record(_ events: UnsafeMutableBufferPointer<epoll_event>) {
        for event in events {
            let token = EpollToken(rawValue: event.data.u64)
            switch token.kind {
            case .queue:
                // The wake-up eventfd and the timerfd say nothing new; the inotify descriptor does.
                if token.descriptor == files.descriptor { VnodeFilter.ready(in: &self) }
            case .descriptor: DescriptorFilter.ready(token, events: event.events, in: &self)
            case .process: ProcessFilter.ready(token, in: &self)
            case .signal:
                // The signalfd or the mailbox: read in every locked section of a watching queue
                // (``SignalFilter/ready(in:)``), whatever epoll says.
                break
            }
        }
    }

    /// The descriptors the queue owns besides its epoll, wake-up and timer descriptors (the
    /// signalfd belongs to the ``SignalDispatcher``; the mailbox is the queue's).
    var ownedDescriptors: [CInt] {
        (signalWatch.map { [$0.mailbox] } ?? []) + (writeEpoll >= 0 ? [writeEpoll] : [])
            + (files.descriptor >= 0 ? [files.descriptor] : []) + Array(processes.keys)
    }

    /// The event of a knote that counts occurrences (timer expirations, signal deliveries):
    /// `data` is the count since the last retrieval, which starts again from zero (EV_CLEAR);
    /// `fflags` is 0.
    mutating func takeCount(_ knote: Int32) -> KEvent {
        let counted = knotes[knote]
        knotes[knote].expirations = 0
        knotes[knote].isActive = false
        return KEvent(
            ident: counted.ident,
            filter: counted.filter,
            flags: counted.flags,
            fflags: [],
            data: counted.expirations,
            udata: counted.udata
        )
    }

    /// Queues an active knote for delivery unless it is disabled.
    mutating func activate(_ knote: Int32) {
        if knotes[knote].isEnabled { knotes.enqueue(knote) }
    }

    /// Applies one change: the generic part of kqueue_register.
    ///
    /// - Returns: the error to report for this change, or nil.
    mutating func apply(_ change: KEvent) -> Errno? {
        switch change.filter {
        case .timer: apply(change, to: TimerFilter.self)
        case .user: apply(change, to: UserFilter.self)
        case .read, .write: DescriptorFilter.validate(change, in: &self) ?? apply(change, to: DescriptorFilter.self)
        case .signal: apply(change, to: SignalFilter.self)
        case .proc: apply(change, to: ProcessFilter.self)
        case .vnode: VnodeFilter.validate(change, in: &self) ?? apply(change, to: VnodeFilter.self)
        default: .invalidArgument
        }
    }

    private mutating func apply<Filter: EmulatedFilter>(_ change: KEvent, to filter: Filter.Type) -> Errno? {
        let flags = change.flags.subtracting(.system)
        let existing = knotes.find(ident: change.ident, filter: change.filter)

        // Delete overrules add (darwin).
        if flags.contains(.delete) {
            guard let knote = existing else { return .noSuchFileOrDirectory }
            filter.detach(knote, from: &self)
            knotes.remove(knote)
            return nil
        }

        let knote: Int32
        if let existing {
            if let error = filter.touch(existing, change, in: &self) { return error }
            knote = existing
            knotes[knote].udata = change.udata
            // Disable wins over enable (darwin); EV_ADD alone does not re-enable.
            if flags.contains(.disable) {
                knotes[knote].isEnabled = false
            } else if flags.contains(.enable) {
                knotes[knote].isEnabled = true
            }
        } else {
            guard flags.contains(.add) else { return .noSuchFileOrDirectory }
            // The flag word as given (darwin), less the actions that do not describe the knote.
            let stored = flags.subtracting(flags.contains(.disable) ? [.delete, .disable, .enable] : [.delete])
            knote = knotes.insert(
                Knote(
                    ident: change.ident,
                    filter: change.filter,
                    flags: stored,
                    udata: change.udata,
                    isEnabled: !flags.contains(.disable)
                )
            )
            if let error = filter.attach(knote, change, to: &self) {
                knotes.remove(knote)
                return error
            }
        }
        filter.update(knote, in: &self)
        if knotes[knote].isEnabled && knotes[knote].isActive {
            knotes.enqueue(knote)
        } else {
            knotes.dequeue(knote)
        }
        return nil
    }

    /// Moves ready events into `events[0..<n]`, at most one per knote, and applies
    /// EV_ONESHOT, EV_DISPATCH and EV_CLEAR. Level-triggered knotes go back to the end of the
    /// ready queue, behind everything this call looked at.
    ///
    /// - Returns: n, the number of events written.
    mutating func collect(into events: inout [KEvent]) -> Int {
        if let first = timers.first, first.deadline <= now {
            TimerFilter.expire(at: now, in: &self)
        }
        // Each knote queued now is looked at once; those put back go behind them.
        var remaining = knotes.readyCount
        var written = 0
        while written < events.count && remaining > 0 && knotes.readyCount > 0 {
            remaining -= 1
            let knote = knotes.readyHead
            knotes.dequeue(knote)
            let event: KEvent?
            switch knotes[knote].filter {
            case .timer: event = deliver(knote, from: TimerFilter.self)
            case .user: event = deliver(knote, from: UserFilter.self)
            case .read, .write: event = deliver(knote, from: DescriptorFilter.self)
            case .signal: event = deliver(knote, from: SignalFilter.self)
            case .proc: event = deliver(knote, from: ProcessFilter.self)
            case .vnode: event = deliver(knote, from: VnodeFilter.self)
            default: preconditionFailure("a knote of an unsupported filter was queued")
            }
            if let event {
                events[written] = event
                written += 1
            }
        }
        return written
    }

    /// Returns one ready knote's event and applies EV_ONESHOT, EV_DISPATCH and EV_CLEAR; nil
    /// when its condition no longer holds.
    private mutating func deliver<Filter: EmulatedFilter>(_ knote: Int32, from filter: Filter.Type) -> KEvent? {
        guard let event = filter.deliver(knote, from: &self) else { return nil }
        let flags = knotes[knote].flags
        if flags.contains(.oneshot) {
            filter.retire(knote, from: &self)
            knotes.remove(knote)
            return event
        }
        if flags.contains(.dispatch) { knotes[knote].isEnabled = false }
        filter.update(knote, in: &self)
        // Level-triggered: back to the end of the queue, behind everything this call looks at.
        if knotes[knote].isEnabled && knotes[knote].isActive { knotes.enqueue(knote) }
        return event
    }

    /// Makes the internal descriptors agree with the state: the eventfd is readable exactly
    /// while events are ready, and the timerfd is armed no later than the earliest timer.
    ///
    /// System calls happen only on a change: an earlier timer, a fired timerfd, the ready
    /// queue becoming empty or not.
    mutating func synchronize(wakeup: CInt, timer: CInt) {
        let hasReady = knotes.readyCount > 0
        if hasReady != isSignalled {
            if hasReady { EventFD.signal(wakeup) } else { EventFD.drain(wakeup) }
            isSignalled = hasReady
        }
        let next = timers.first?.deadline
        switch (next, armedDeadline) {
        case (nil, nil):
            break
        case (nil, let armed?):
            // A later wake-up is harmless; only a timerfd that already fired must be reset.
            if armed <= now {
                TimerFD.arm(timer, at: nil)
                armedDeadline = nil
            }
        case (let next?, nil):
            TimerFD.arm(timer, at: next)
            armedDeadline = next
        case (let next?, let armed?):
            if next < armed || (armed <= now && next != armed) {
                TimerFD.arm(timer, at: next)
                armedDeadline = next
            }
        }
    }
}
#endif
