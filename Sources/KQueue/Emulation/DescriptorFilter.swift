#if os(Linux) && !KQUEUE_LIBKQUEUE
internal import CKQueueShims
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import SystemPackage

/// EVFILT_READ and EVFILT_WRITE: the descriptor itself in the queue's epoll set.
///
/// The read and write knotes of one descriptor share one ``DescriptorRegistration``, and each
/// direction has an edge-triggered epoll registration of its own: the read one in the queue's
/// epoll set, the write one in a second set nested in it (``QueueState/writeEpoll``). An
/// epoll event says only that the direction changed; the filter then looks at the descriptor
/// (the event's mask, FIONREAD, SIOCOUTQ, F_GETPIPE_SZ, SO_ERROR, TCP_INFO) to decide whether
/// the condition holds and what `data` is.
///
/// Why a registration per direction: epoll reports an edge with the descriptor's whole
/// readiness, so with one registration for both, bytes arriving would also re-fire an EV_CLEAR
/// write knote whose condition did not change (and space freed an EV_CLEAR read knote). On the
/// BSDs a socket's receive and send buffers have knote lists of their own. The kernel's
/// wake-ups carry what changed (EPOLLIN for bytes arriving, EPOLLOUT for space freed), and epoll
/// passes a wake-up only to the registrations that ask for it, so a registration per direction
/// sees only its own edges. epoll keys a registration by (open file, descriptor number), so one
/// set holds one per descriptor: the second lives in a second set, since a second number (a
/// dup) would keep the file open after the user closes it (see ``namesRegisteredFile(_:_:in:)``).
/// Comparing what a knote last reported with what the descriptor says now would not do: a
/// count that goes back to the same value (everything read, as many bytes arrived) is a change
/// it cannot see, and the knote would never fire again. Wake-ups that carry nothing (a peer
/// shutting down, a reset) reach both directions; each knote is then evaluated, as before. A knote is evaluated again before it is returned
/// unless it was evaluated in the same pass, so a level-triggered knote whose condition has
/// gone is dropped silently.
///
/// Darwin profile:
/// - EVFILT_READ: `data` is the number of bytes that can be read (for a datagram socket:
///   the size of the next datagram, as Linux's FIONREAD reports it); for a listening TCP
///   socket the number of connections waiting to be accepted (1 while any wait, for other
///   listening sockets). EV_EOF when the read side is shut down or the last writer of a pipe
///   is gone, with the socket's pending error in `fflags`; the event then fires even with no
///   data. NOTE_LOWAT: fires when `data` reaches the knote's own threshold (never the
///   socket-wide SO_RCVLOWAT).
/// - EVFILT_WRITE: `data` is the free space (pipe capacity minus the bytes in it; the send
///   buffer minus the bytes not yet acknowledged); EV_EOF when the reader of a pipe is gone
///   (`data` 0) or the socket is shut down in both directions, with the pending error in
///   `fflags`. A listening socket never fires.
/// - Regular files (which epoll refuses), as on the BSDs: EVFILT_READ fires while the offset is
///   not at the end of the file, `data` being the end minus the offset (negative past the end,
///   after a truncation or a seek beyond it); the file's inotify watch (``VnodeFilter``) wakes
///   the knote when the file changes, so a knote waiting at the end fires when the file grows,
///   and with EV_CLEAR once per change. EVFILT_WRITE is always ready. A directory is always
///   readable (`data` as for a file) and writable.
/// - Level-triggered by default, EV_CLEAR reports each new change once; EV_ONESHOT and
///   EV_DISPATCH as for every filter. Re-adding an existing knote replaces its NOTE_LOWAT
///   threshold and succeeds.
/// - A descriptor that is closed without EV_DELETE keeps its knotes (Linux does not tell):
///   every change and every evaluation first checks that the number still names the open file
///   it named at registration (``namesRegisteredFile(_:_:in:)``), and the knotes of a
///   descriptor that was closed, or names another file now, are removed without ever being
///   returned. A change for a closed descriptor is EBADF.
/// - The descriptors the queue keeps in its epoll set (``QueueState/owns(_:)``) are not the
///   user's: a change naming one is EBADF, as on macOS, where the number would not be open.
enum DescriptorFilter: EmulatedFilter {
    /// Runs before every change to a read or write knote: refuses the queue's own descriptors,
    /// and forgets the knotes of a descriptor that was closed, or that names another file now.
    ///
    /// - Returns: EBADF for a number that is not an open descriptor, or is one of the queue's.
    static func validate(_ change: KEvent, in queue: inout QueueState) -> Errno? {
        guard let fd = CInt(exactly: change.ident) else { return .badFileDescriptor }
        // Changing the queue's own registration would silence its timers, its wake-ups, its
        // signals or a process's exit; there is no user knote at that number (``QueueState/adopt(_:)``).
        if queue.owns(fd) { return .badFileDescriptor }
        // A new knote's registration looks at the descriptor itself (``attach(_:_:to:)``: a
        // parked direction's re-arming checks the file, a new registration's fstat(2) gives
        // the same EBADF).
        let isNewKnote = change.flags.contains(.add) && queue.knotes.find(ident: change.ident, filter: change.filter) == nil
        if let registration = queue.descriptors[fd] {
            if isNewKnote && registration.isParked(change.filter) { return nil }
            if namesRegisteredFile(fd, registration, in: queue) { return nil }
            forget(fd, in: &queue)
        }
        if isNewKnote { return nil }
        do throws(Errno) {
            _ = try Descriptor.identity(fd)
            return nil
        } catch {
            return .badFileDescriptor
        }
    }

    /// Whether `fd` still names the open file its registration was made for.
    ///
    /// A descriptor in the epoll set is asked of epoll itself, which keys every registration by
    /// (open file, descriptor number): EPOLL_CTL_ADD of the number fails with EEXIST exactly
    /// while the number names the registered open file. Any other outcome means another file,
    /// or none (an ADD that succeeded is undone at once; its token reads as the queue's own, so
    /// a waiter that sees an event of it in between ignores it). It costs one system call, as
    /// the fstat(2) it replaces did, and it is exact where device and inode are not: every
    /// eventfd, timerfd, epoll and signalfd (and pidfd before Linux 6.9) shares one anonymous
    /// inode. kcmp(2) KCMP_FILE would need a second descriptor of the registered file, and a
    /// duplicate kept by the registration would keep the file open after the user closes it
    /// (a socket would never send its FIN); /proc/self/fdinfo shows no file address.
    ///
    /// Files epoll refuses (regular files, directories, some devices) are not in the set; their
    /// inodes are their own, so device and inode decide (and a regular file closed and reopened
    /// under the same number keeps its knotes).
    static func namesRegisteredFile(_ fd: CInt, _ registration: DescriptorRegistration, in queue: QueueState) -> Bool {
        guard registration.isPolled else {
            return (try? Descriptor.identity(fd))?.identity == registration.identity
        }
        return Epoll.holdsRegistration(registration.readEvents != 0 ? queue.epoll : queue.writeEpoll, fd)
    }

    static func attach(_ knote: Int32, _ change: KEvent, to queue: inout QueueState) -> Errno? {
        let fd = CInt(change.ident)
        let filter = change.filter
        setThreshold(knote, change, in: &queue)
        if var registration = queue.descriptors[fd], registration.isParked(filter) {
            if rearm(fd, filter, registration, in: queue) {
                registration[filter] = knote
                queue.descriptors[fd] = registration
                leaveToEpoll(knote, in: &queue)
                return nil
            }
            forget(fd, in: &queue)  // the number names another file now
        }
        if var registration = queue.descriptors[fd] {
            let before = registration.events(filter)
            registration[filter] = knote
            if let error = register(fd, &registration, in: &queue) { return error }
            queue.descriptors[fd] = registration
            if registration.events(filter) != before { leaveToEpoll(knote, in: &queue) }
            return watchFile(knote, fd, in: &queue)
        }
        let current: (identity: Descriptor.Identity, type: UInt32)
        do throws(Errno) {
            current = try Descriptor.identity(fd)
        } catch {
            return .badFileDescriptor
        }
        var registration = DescriptorRegistration(
            identity: current.identity,
            type: current.type,
            generation: queue.makeGeneration()
        )
        registration[filter] = knote
        if current.type == UInt32(Glibc.S_IFREG) || current.type == UInt32(Glibc.S_IFDIR) {
            registration.isPolled = false
        } else {
            switch register(fd, &registration, in: &queue) {
            case nil: break
            case .notPermitted?: registration.isPolled = false  // a file epoll cannot watch: always ready
            case .tooManySymbolicLinkLevels?: return .invalidArgument  // watching would close a loop of queues
            case let error?: return error
            }
        }
        queue.descriptors[fd] = registration
        if registration.events(filter) != 0 { leaveToEpoll(knote, in: &queue) }
        return watchFile(knote, fd, in: &queue)
    }

    /// A knote whose direction was just added to (or changed in) an epoll set needs no look at
    /// the descriptor now: epoll looks at it when the registration is made, and queues an event
    /// if the direction is ready (EPOLL_CTL_ADD and EPOLL_CTL_MOD both do), which this pass's
    /// harvest or a later one records (``ready(_:events:in:)``). Marking it evaluated saves
    /// ``update(_:in:)`` the probe, poll(2) and ioctl(2) of an evaluation.
    private static func leaveToEpoll(_ knote: Int32, in queue: inout QueueState) {
        queue.knotes[knote].evaluatedPass = queue.pass
    }

    /// Watches a regular file for its read knote, through the queue's inotify descriptor, so
    /// that a change of the file (growth above all) wakes the knote (``fileChanged(_:in:)``).
    private static func watchFile(_ knote: Int32, _ fd: CInt, in queue: inout QueueState) -> Errno? {
        guard queue.knotes[knote].filter == .read, queue.descriptors[fd]?.isRegularFile == true,
            let error = VnodeFilter.watch(knote, fd, in: &queue)
        else { return nil }
        release(knote, isGone: false, in: &queue)
        return error
    }

    static func touch(_ knote: Int32, _ change: KEvent, in queue: inout QueueState) -> Errno? {
        setThreshold(knote, change, in: &queue)
        return nil
    }

    /// Evaluates an enabled knote after a change (EV_ADD, EV_ENABLE …); after a delivery it
    /// was evaluated already.
    static func update(_ knote: Int32, in queue: inout QueueState) {
        guard queue.knotes[knote].isEnabled, queue.knotes[knote].evaluatedPass != queue.pass else { return }
        if !evaluate(CInt(queue.knotes[knote].ident), only: knote, readiness: nil, in: &queue) {
            queue.knotes[knote].isActive = false
        }
    }

    static func detach(_ knote: Int32, from queue: inout QueueState) {
        release(knote, isGone: false, in: &queue)
    }

    /// A delivered one-shot knote leaves its direction's epoll registration in place, parked:
    /// the next knote of that direction (a task waiting again, as an event loop's do) re-arms
    /// it with one EPOLL_CTL_MOD instead of an fstat(2), an EPOLL_CTL_ADD and, now, an
    /// EPOLL_CTL_DEL. An edge that comes while it is parked removes it (``ready(_:_:events:in:)``),
    /// so a descriptor nobody waits on again costs at most one wake-up; closing the file removes
    /// it from the set as usual.
    static func retire(_ knote: Int32, from queue: inout QueueState) {
        release(knote, isGone: false, parking: true, in: &queue)
    }

    /// Re-arms a parked direction for a new knote: EPOLL_CTL_MOD with the same events and
    /// token, which epoll accepts only while `fd` names the file registered (it keys
    /// registrations by open file and number), and which makes it look at the descriptor and
    /// queue an event if the direction is ready, as an EPOLL_CTL_ADD would.
    private static func rearm(_ fd: CInt, _ filter: KEvent.Filter, _ registration: DescriptorRegistration, in queue: QueueState) -> Bool {
        let token = EpollToken(kind: .descriptor, descriptor: fd, generation: registration.generation)
        do throws(Errno) {
            try Epoll.modify(epollSet(of: filter, in: queue), fd, events: registration.events(filter), token: token)
            return true
        } catch {
            return false
        }
    }

    static func deliver(_ knote: Int32, from queue: inout QueueState) -> KEvent? {
        let fd = CInt(queue.knotes[knote].ident)
        if queue.knotes[knote].evaluatedPass != queue.pass {
            guard evaluate(fd, only: knote, readiness: nil, in: &queue) else {
                release(knote, isGone: true, in: &queue)
                queue.knotes.remove(knote)
                return nil
            }
        }
        let stored = queue.knotes[knote]
        guard stored.isActive else { return nil }
        if stored.flags.contains(.clear) { queue.knotes[knote].isActive = false }
        return KEvent(
            ident: stored.ident,
            filter: stored.filter,
            flags: stored.isEOF ? stored.flags.union(.eof) : stored.flags,
            fflags: KEvent.FilterFlags(rawValue: stored.isEOF ? stored.eventFFlags : 0),
            data: stored.eventData,
            udata: stored.udata
        )
    }

    /// Handles a change of a regular file, reported by its inotify watch: evaluates its read
    /// knote, and queues it if the file is readable.
    static func fileChanged(_ knote: Int32, in queue: inout QueueState) {
        guard queue.knotes[knote].isEnabled else { return }
        let fd = CInt(queue.knotes[knote].ident)
        guard evaluate(fd, only: knote, readiness: nil, in: &queue) else {
            forget(fd, in: &queue)
            return
        }
        if queue.knotes[knote].isActive { queue.activate(knote) }
    }

    /// Handles an epoll event of the queue's epoll set: a read registration's edge, or the
    /// write set having edges to harvest.
    static func ready(_ token: EpollToken, events: UInt32, in queue: inout QueueState) {
        guard token.descriptor == queue.writeEpoll else {
            ready(token, .read, events: events, in: &queue)
            return
        }
        let writes = queue.writeEpoll
        withUnsafeTemporaryAllocation(of: epoll_event.self, capacity: 64) { buffer in
            while case let count = Epoll.ready(writes, into: buffer), count > 0 {
                for event in buffer[..<count] {
                    let token = EpollToken(rawValue: event.data.u64)
                    // A probe of ``namesRegisteredFile(_:_:in:)`` reads as the queue's own.
                    if token.kind == .descriptor { ready(token, .write, events: event.events, in: &queue) }
                }
                if count < buffer.count { break }
            }
        }
    }

    /// Handles an edge of one direction's registration: evaluates its knote and queues it if
    /// its condition holds.
    private static func ready(_ token: EpollToken, _ filter: KEvent.Filter, events: UInt32, in queue: inout QueueState) {
        let fd = token.descriptor
        guard let registration = queue.descriptors[fd], registration.generation == token.generation else {
            return  // an event of a registration that no longer exists
        }
        let knote = registration[filter]
        guard knote >= 0 else {
            // A wake-up of a direction no knote watches now: a parked one goes.
            if registration.isParked(filter) { unpark(fd, filter, registration, in: &queue) }
            return
        }
        guard evaluate(fd, only: knote, readiness: events, in: &queue) else {
            forget(fd, in: &queue)
            return
        }
        if queue.knotes[knote].isActive { queue.activate(knote) }
    }

    // MARK: Evaluation

    /// Looks at the descriptor and records in the enabled knotes of its registration (or in
    /// `only`) whether their condition holds, with `data`, EV_EOF and the error.
    ///
    /// - Parameter readiness: the epoll or poll events of the descriptor; nil to ask poll(2).
    /// - Returns: false when `fd` no longer names the registered file.
    private static func evaluate(_ fd: CInt, only: Int32?, readiness: UInt32?, in queue: inout QueueState) -> Bool {
        guard let registration = queue.descriptors[fd], namesRegisteredFile(fd, registration, in: queue) else {
            return false
        }
        let knotes = only.map { [$0] } ?? [registration.read, registration.write]
        var readiness = readiness
        var socketError: Int?
        for knote in knotes where knote >= 0 && queue.knotes[knote].isEnabled {
            queue.knotes[knote].evaluatedPass = queue.pass
            guard registration.isPolled else {
                queue.knotes[knote].isEOF = false
                guard queue.knotes[knote].filter == .read else {
                    queue.knotes[knote].isActive = true
                    queue.knotes[knote].eventData = 0
                    continue
                }
                // A file whose size or offset cannot be read reports 0 bytes.
                let data = (try? Descriptor.bytesAfterOffset(fd)) ?? 0
                queue.knotes[knote].eventData = data
                // A regular file is readable while the offset is not at its end (the BSDs fire
                // for any `data` but 0); anything else epoll refuses is always readable.
                queue.knotes[knote].isActive = registration.isRegularFile ? data != 0 : true
                continue
            }
            // poll(2) fails only without memory: then the descriptor counts as not ready.
            let events = readiness ?? (try? Descriptor.readiness(fd)) ?? 0
            readiness = events
            if events & UInt32(ckq_EPOLLERR) != 0 && registration.isSocket && socketError == nil {
                // Reading SO_ERROR clears the error, as the next recv(2) would.
                socketError = (try? Descriptor.socketOption(fd, SO_ERROR)) ?? 0
            }
            if queue.knotes[knote].filter == .read {
                evaluateRead(knote, fd, events, registration, socketError ?? 0, in: &queue)
            } else {
                evaluateWrite(knote, fd, events, registration, socketError ?? 0, in: &queue)
            }
        }
        return true
    }

    private static func evaluateRead(
        _ knote: Int32,
        _ fd: CInt,
        _ events: UInt32,
        _ registration: DescriptorRegistration,
        _ socketError: Int,
        in queue: inout QueueState
    ) {
        let readable = events & UInt32(ckq_EPOLLIN) != 0
        let isEOF =
            events & UInt32(ckq_EPOLLRDHUP | ckq_EPOLLHUP) != 0
            || (!registration.isSocket && events & UInt32(ckq_EPOLLERR) != 0)
        let data: Int
        do throws(Errno) {
            data = try Descriptor.ioctlValue(fd, ckq_SIOCINQ)
        } catch .invalidArgument where registration.isSocket {
            // A listening socket: the number of connections waiting to be accepted (known for
            // TCP only).
            data = (try? Descriptor.acceptQueueLength(fd)) ?? (readable ? 1 : 0)
        } catch {
            data = readable ? 1 : 0  // a descriptor that cannot say how much it holds
        }
        let threshold = self.threshold(knote, in: queue)
        let isReady = (threshold > 1 ? data >= threshold : readable) || isEOF || socketError != 0
        record(knote, isReady: isReady, data: data, isEOF: isEOF, error: socketError, in: &queue)
    }

    private static func evaluateWrite(
        _ knote: Int32,
        _ fd: CInt,
        _ events: UInt32,
        _ registration: DescriptorRegistration,
        _ socketError: Int,
        in queue: inout QueueState
    ) {
        let writable = events & UInt32(ckq_EPOLLOUT) != 0
        let isEOF =
            events & UInt32(ckq_EPOLLHUP) != 0
            || (!registration.isSocket && events & UInt32(ckq_EPOLLERR) != 0)
        var data = 0
        if registration.isSocket {
            if let size = try? Descriptor.socketOption(fd, SO_SNDBUF),
                let queued = try? Descriptor.ioctlValue(fd, ckq_SIOCOUTQ)
            {
                data = max(size - queued, 0)
            }
        } else if registration.isPipe && !isEOF {
            if let capacity = try? Descriptor.pipeCapacity(fd), let queued = try? Descriptor.ioctlValue(fd, ckq_SIOCINQ) {
                data = max(capacity - queued, 0)
            }
        }
        let threshold = self.threshold(knote, in: queue)
        let isReady = (writable && (threshold <= 1 || data >= threshold)) || isEOF || socketError != 0
        record(knote, isReady: isReady, data: data, isEOF: isEOF, error: socketError, in: &queue)
    }

    private static func record(
        _ knote: Int32,
        isReady: Bool,
        data: Int,
        isEOF: Bool,
        error: Int,
        in queue: inout QueueState
    ) {
        // Once read, the socket error is gone from the socket: it stays with the EV_EOF.
        let fflags: UInt32 = isEOF ? (error != 0 ? UInt32(error) : (queue.knotes[knote].isEOF ? queue.knotes[knote].eventFFlags : 0)) : 0
        queue.knotes[knote].isActive = isReady
        queue.knotes[knote].eventData = data
        queue.knotes[knote].isEOF = isEOF
        queue.knotes[knote].eventFFlags = fflags
    }

    /// The knote's NOTE_LOWAT threshold, 1 without one.
    private static func threshold(_ knote: Int32, in queue: QueueState) -> Int {
        let lowat = KEvent.FilterFlags(rawValue: queue.knotes[knote].sfflags).contains(.lowat)
        return lowat ? max(queue.knotes[knote].sdata, 1) : 1
    }

    private static func setThreshold(_ knote: Int32, _ change: KEvent, in queue: inout QueueState) {
        queue.knotes[knote].sfflags = change.fflags.rawValue
        queue.knotes[knote].sdata = change.data
    }

    // MARK: Registrations

    /// Brings the epoll registrations of both directions in line with the knotes: each
    /// direction with a knote has one (the read one in the queue's set, the write one in the
    /// write set, created for the first), and a direction without one has none.
    ///
    /// - Returns: the error of the first registration that failed.
    private static func register(_ fd: CInt, _ registration: inout DescriptorRegistration, in queue: inout QueueState)
        -> Errno?
    {
        guard registration.isPolled else { return nil }
        let token = EpollToken(kind: .descriptor, descriptor: fd, generation: registration.generation)
        let read = registration.wantedReadEvents
        if read != registration.readEvents {
            if let error = update(queue.epoll, fd, from: registration.readEvents, to: read, token: token) { return error }
            registration.readEvents = read
        }
        let write = registration.wantedWriteEvents
        if write != registration.writeEvents {
            if queue.writeEpoll < 0, let error = makeWriteSet(in: &queue) { return error }
            if let error = update(queue.writeEpoll, fd, from: registration.writeEvents, to: write, token: token) {
                return error
            }
            registration.writeEvents = write
        }
        return nil
    }

    /// Adds, changes or removes one direction's registration in `epoll`.
    private static func update(_ epoll: CInt, _ fd: CInt, from current: UInt32, to wanted: UInt32, token: EpollToken)
        -> Errno?
    {
        do throws(Errno) {
            if wanted == 0 {
                Epoll.removeIfPresent(epoll, fd)
            } else if current == 0 {
                do throws(Errno) {
                    try Epoll.add(epoll, fd, events: wanted, token: token)
                } catch .fileExists {
                    // Left in the set by an earlier registration of the same open file.
                    try Epoll.modify(epoll, fd, events: wanted, token: token)
                }
            } else {
                try Epoll.modify(epoll, fd, events: wanted, token: token)
            }
            return nil
        } catch {
            return error
        }
    }

    /// Creates the write set and nests it, level-triggered, in the queue's epoll set, where it
    /// is readable while it holds an edge: ``ready(_:events:in:)`` harvests it under the lock,
    /// like every other epoll event.
    private static func makeWriteSet(in queue: inout QueueState) -> Errno? {
        do throws(Errno) {
            let writes = try Epoll.create()
            queue.adopt(writes)
            do throws(Errno) {
                let token = EpollToken(kind: .descriptor, descriptor: writes, generation: 0)
                try Epoll.add(queue.epoll, writes, events: UInt32(ckq_EPOLLIN), token: token)
            } catch {
                closeDescriptor(writes)
                throw error
            }
            queue.writeEpoll = writes
            return nil
        } catch {
            return error
        }
    }

    /// Takes a knote out of its registration; the last one out removes the registration.
    ///
    /// - Parameter isGone: the descriptor was closed or names another file: leave epoll alone.
    /// - Parameter parking: keep the direction's epoll registration for the next knote (see
    ///   ``retire(_:from:)``).
    private static func release(_ knote: Int32, isGone: Bool, parking: Bool = false, in queue: inout QueueState) {
        VnodeFilter.unwatch(knote, in: &queue)
        let fd = CInt(queue.knotes[knote].ident)
        let filter = queue.knotes[knote].filter
        guard var registration = queue.descriptors[fd], registration[filter] == knote else {
            return
        }
        registration[filter] = -1
        if parking && !isGone && registration.events(filter) != 0 {
            queue.descriptors[fd] = registration
            return
        }
        if registration.isEmpty {
            if registration.isPolled && !isGone {
                if registration.readEvents != 0 { Epoll.removeIfPresent(queue.epoll, fd) }
                if registration.writeEvents != 0 { Epoll.removeIfPresent(queue.writeEpoll, fd) }
            }
            queue.descriptors[fd] = nil
        } else {
            if !isGone { _ = register(fd, &registration, in: &queue) }
            queue.descriptors[fd] = registration
        }
    }

    /// The epoll set of a direction's registrations: the queue's own for reading, the nested
    /// write set for writing.
    private static func epollSet(of filter: KEvent.Filter, in queue: QueueState) -> CInt {
        filter == .read ? queue.epoll : queue.writeEpoll
    }

    /// Removes a parked direction's epoll registration (the registration goes with it when
    /// nothing else is left of it).
    private static func unpark(_ fd: CInt, _ filter: KEvent.Filter, _ registration: DescriptorRegistration, in queue: inout QueueState) {
        var registration = registration
        Epoll.removeIfPresent(epollSet(of: filter, in: queue), fd)
        if filter == .read { registration.readEvents = 0 } else { registration.writeEvents = 0 }
        queue.descriptors[fd] = registration.isEmpty && !registration.isRegistered ? nil : registration
    }

    /// Removes the knotes of a descriptor that was closed or names another file now, without
    /// reporting them. Its registration may stay in the epoll set (when the old file is still
    /// open elsewhere) until that file is closed; its events are ignored (the generation no
    /// longer matches).
    static func forget(_ fd: CInt, in queue: inout QueueState) {
        guard let registration = queue.descriptors[fd] else { return }
        queue.descriptors[fd] = nil
        for knote in [registration.read, registration.write] where knote >= 0 {
            VnodeFilter.unwatch(knote, in: &queue)
            queue.knotes.remove(knote)
        }
    }
}
#endif
