#if os(Linux) && !KQUEUE_LIBKQUEUE
internal import CKQueueShims
import SystemPackage

/// EVFILT_PROC with NOTE_EXIT: one pidfd per knote in the queue's epoll set.
///
/// Darwin profile: `ident` is the process id; EV_CLEAR is always set. When the process
/// exits the event fires once with EV_EOF and EV_ONESHOT (the knote is deleted when it is
/// returned) and `fflags` NOTE_EXIT; `data` is the wait(2) status (`exit(3)` gives `3 << 8`)
/// when NOTE_EXITSTATUS was asked for, 0 otherwise. A child that exited before the
/// registration (a zombie) fires at once. The process is never reaped: its status stays for
/// waitpid(2). A process that does not exist (or was reaped) is ESRCH.
///
/// The knote records only what its `fflags` ask for, and fires only with something recorded
/// (macOS's `filt_procevent`): an exit while the knote asks for no NOTE_EXIT (a change to
/// `fflags` 0 replaces what it asks for, as `filt_proctouch` does) is no event, then or later;
/// an exit recorded before such a change is still returned.
///
/// Linux differences: only NOTE_EXIT and NOTE_EXITSTATUS are supported (any other bit is
/// EINVAL); the status is available only for a child of this process (for another process
/// `data` is 0); each knote holds one descriptor.
enum ProcessFilter: EmulatedFilter {
    static func attach(_ knote: Int32, _ change: KEvent, to queue: inout QueueState) -> Errno? {
        if let error = validate(change.fflags) { return error }
        guard let pid = Int32(exactly: change.ident), pid > 0 else { return .noSuchProcess }
        let fd: CInt
        do throws(Errno) {
            fd = try PidFD.open(pid)
        } catch .invalidArgument {
            return .noSuchProcess
        } catch {
            return error  // ENOSYS before Linux 5.3
        }
        queue.adopt(fd)
        let generation = queue.makeGeneration()
        let token = EpollToken(kind: .process, descriptor: fd, generation: generation)
        do throws(Errno) {
            try Epoll.add(queue.epoll, fd, events: UInt32(ckq_EPOLLIN) | ckq_EPOLLET, token: token)
        } catch {
            closeDescriptor(fd)
            return error
        }
        queue.knotes[knote].flags.insert(.clear)
        queue.knotes[knote].sfflags = change.fflags.rawValue
        queue.knotes[knote].source = fd
        queue.processes[fd] = ProcessRegistration(knote: knote, generation: generation)
        // A process that has exited already (a zombie) fires at once.
        // (Should poll(2) fail, for want of memory, the exit still comes through epoll.)
        if ((try? Descriptor.readiness(fd)) ?? 0) & UInt32(ckq_EPOLLIN) != 0 { exited(knote, in: &queue) }
        return nil
    }

    static func touch(_ knote: Int32, _ change: KEvent, in queue: inout QueueState) -> Errno? {
        if let error = validate(change.fflags) { return error }
        queue.knotes[knote].sfflags = change.fflags.rawValue
        return nil
    }

    static func update(_ knote: Int32, in queue: inout QueueState) {}

    static func detach(_ knote: Int32, from queue: inout QueueState) {
        let fd = queue.knotes[knote].source
        guard fd >= 0 else { return }
        queue.processes[fd] = nil
        queue.knotes[knote].source = -1
        closeDescriptor(fd)  // which also takes it out of the epoll set
    }

    static func deliver(_ knote: Int32, from queue: inout QueueState) -> KEvent? {
        let stored = queue.knotes[knote]
        guard stored.isActive else { return nil }
        queue.knotes[knote].isActive = false
        let recorded = KEvent.FilterFlags(rawValue: stored.eventFFlags)
        guard !recorded.isEmpty else { return nil }
        let requested = KEvent.FilterFlags(rawValue: stored.sfflags)
        var data = 0
        if requested.contains(.exitStatus), recorded.contains(.exit), stored.source >= 0 {
            // 0 when the status is not available: not a child, reaped already, or a kernel
            // without waitid(P_PIDFD) (before 5.4: EINVAL).
            data = Int((try? PidFD.exitStatus(stored.source)) ?? nil ?? 0)
        }
        return KEvent(
            ident: stored.ident,
            filter: .proc,
            flags: stored.flags,
            fflags: recorded,
            data: data,
            udata: stored.udata
        )
    }

    /// Handles an epoll event of a pidfd: the process exited.
    static func ready(_ token: EpollToken, in queue: inout QueueState) {
        guard let registration = queue.processes[token.descriptor], registration.generation == token.generation else {
            return
        }
        exited(registration.knote, in: &queue)
    }

    /// Records the exit if the knote asks for it (NOTE_EXIT), and only then activates it.
    private static func exited(_ knote: Int32, in queue: inout QueueState) {
        queue.knotes[knote].flags.formUnion([.eof, .oneshot])
        let recorded = KEvent.FilterFlags(rawValue: queue.knotes[knote].sfflags).intersection(.exit)
        guard !recorded.isEmpty else { return }
        queue.knotes[knote].eventFFlags |= recorded.rawValue
        queue.knotes[knote].isActive = true
        queue.activate(knote)
    }

    private static func validate(_ fflags: KEvent.FilterFlags) -> Errno? {
        fflags.subtracting([.exit, .exitStatus]).isEmpty ? nil : .invalidArgument
    }
}
#endif
