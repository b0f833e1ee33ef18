#if os(Linux) && !KQUEUE_LIBKQUEUE
internal import CKQueueShims
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import SystemPackage

/// The queue's epoll set (see Syscalls.swift for the conventions).
enum Epoll {
    static func create() throws(Errno) -> CInt {
        try retryingInterrupts { epoll_create1(ckq_EPOLL_CLOEXEC) }
    }

    /// Adds one of the queue's own descriptors, level-triggered, with the descriptor alone as
    /// the event's data (an ``EpollToken`` of kind ``EpollToken/Kind/queue``).
    static func add(_ epoll: CInt, _ fd: CInt, events: UInt32) throws(Errno) {
        try control(epoll, EPOLL_CTL_ADD, fd, events: events, token: EpollToken(kind: .queue, descriptor: fd, generation: 0))
    }

    /// Adds `fd` to the epoll set with `token` as the event's data.
    static func add(_ epoll: CInt, _ fd: CInt, events: UInt32, token: EpollToken) throws(Errno) {
        try control(epoll, EPOLL_CTL_ADD, fd, events: events, token: token)
    }

    /// Changes the events and data of `fd`'s registration.
    static func modify(_ epoll: CInt, _ fd: CInt, events: UInt32, token: EpollToken) throws(Errno) {
        try control(epoll, EPOLL_CTL_MOD, fd, events: events, token: token)
    }

    /// Removes the registration of the file `fd` names, if the set holds one. The number may
    /// have been closed (EBADF) or name another file now (ENOENT): then there is nothing to
    /// remove. Any other failure is a bug.
    static func removeIfPresent(_ epoll: CInt, _ fd: CInt) {
        var event = epoll_event()
        do throws(Errno) {
            _ = try retryingInterrupts { epoll_ctl(epoll, EPOLL_CTL_DEL, fd, &event) }
        } catch .badFileDescriptor, .noSuchFileOrDirectory {
        } catch {
            preconditionFailure("epoll_ctl(EPOLL_CTL_DEL, \(fd)) failed: \(error)")
        }
    }

    /// Whether the epoll set holds a registration of the open file `fd` names now (see
    /// ``DescriptorFilter/namesRegisteredFile(_:_:in:)``).
    ///
    /// EPOLL_CTL_ADD looks the (file, number) pair up before anything else can fail, and fails
    /// with EEXIST exactly when it is registered; any other failure (EBADF, EPERM, ENOSPC …)
    /// means it is not. An ADD that succeeds is removed again; its token reads as the queue's own.
    static func holdsRegistration(_ epoll: CInt, _ fd: CInt) -> Bool {
        do throws(Errno) {
            try control(epoll, EPOLL_CTL_ADD, fd, events: 0, token: EpollToken(kind: .queue, descriptor: fd, generation: 0))
        } catch .fileExists {
            return true
        } catch {
            return false
        }
        removeIfPresent(epoll, fd)
        return false
    }

    private static func control(_ epoll: CInt, _ operation: CInt, _ fd: CInt, events: UInt32, token: EpollToken)
        throws(Errno)
    {
        var event = epoll_event()
        event.events = events
        event.data.u64 = token.rawValue
        _ = try retryingInterrupts { epoll_ctl(epoll, operation, fd, &event) }
    }

    /// Waits until a registration in the set is ready or `timeout` (nanoseconds, nil =
    /// forever) passes, and takes nothing from the set.
    ///
    /// poll(2) on an epoll descriptor reports it readable while its ready list holds a
    /// registration that is ready, and leaves the list as it is (an edge-triggered event stays
    /// until an epoll_wait takes it). So a thread that waits outside the queue's lock never
    /// holds an event: every event is taken by ``ready(_:into:)`` in a locked section and
    /// recorded in that same section, before any delivery that could have consumed it.
    ///
    /// ppoll(2) takes the timeout in nanoseconds. With `wholeMilliseconds` (a test hook) the
    /// wait is poll(2), in whole milliseconds: the timeout is rounded up, never down, so a wait
    /// never ends before `timeout` for want of precision (a rounded-down wait would end early,
    /// and the caller, which waits again until its deadline, would spin through the
    /// sub-millisecond rest).
    ///
    /// `signalfd` (-1 for none) is the ``SignalDispatcher``'s signalfd, polled directly beside
    /// the set: polled by this thread, it is readable also for a signal sent to this thread
    /// alone, which the set's registration of it (looked at by whichever thread polls the set
    /// first) may miss.
    ///
    /// - Throws: `.interrupted` when a signal ends the wait.
    static func waitUntilReady(
        _ epoll: CInt,
        or signalfd: CInt = -1,
        timeout: Int64?,
        wholeMilliseconds: Bool = false
    ) throws(Errno) {
        var entries = (
            pollfd(fd: epoll, events: Int16(POLLIN), revents: 0),
            pollfd(fd: signalfd, events: Int16(POLLIN), revents: 0)
        )
        let count: nfds_t = signalfd >= 0 ? 2 : 1
        let result = withUnsafeMutableBytes(of: &entries) { bytes -> CInt in
            let entry = bytes.baseAddress!.assumingMemoryBound(to: pollfd.self)
            if wholeMilliseconds {
                // -1 waits forever; a timeout beyond Int32.max ms (24.8 days) ends early, and the
                // caller waits again for the rest.
                let milliseconds = timeout.map { CInt(clamping: $0.dividedRoundingUp(by: 1_000_000)) } ?? -1
                return poll(entry, count, milliseconds)
            } else if let timeout {
                var spec = timespec(tv_sec: Int(timeout / 1_000_000_000), tv_nsec: Int(timeout % 1_000_000_000))
                return ckq_ppoll(entry, count, &spec)
            } else {
                return ckq_ppoll(entry, count, nil)
            }
        }
        if result == -1 { throw Errno(rawValue: errno) }
    }

    /// What the set has ready now, without waiting. The set is the queue's own, so a failure
    /// is a bug.
    static func ready(_ epoll: CInt, into events: UnsafeMutableBufferPointer<epoll_event>) -> Int {
        do throws(Errno) {
            return Int(try retryingInterrupts { epoll_wait(epoll, events.baseAddress, CInt(events.count), 0) })
        } catch {
            preconditionFailure("epoll_wait(\(epoll)) failed: \(error)")
        }
    }
}
#endif
