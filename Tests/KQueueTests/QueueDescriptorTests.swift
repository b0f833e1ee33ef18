#if os(Linux)
import CKQueueShims
@preconcurrency import Glibc
import KQueue
import SystemPackage
import TestSupport
import Testing

/// The descriptors a Linux queue keeps inside its epoll set (the wake-up eventfd, the timerfd,
/// the signalfd, the pidfds) have ordinary numbers, but they are the queue's: a read or write
/// change naming one is EBADF, as on macOS, where such a number would not be open, and the
/// queue goes on working (issue 10, fault 4).
@Suite("The queue's own descriptors (Linux)", .blocking)
struct QueueDescriptorTests {
    /// The eventfd and the timerfd of a new queue: everything in its epoll set.
    func internalDescriptors(_ q: KQueue) throws -> [CInt] {
        let targets = try #require(epollTargets(q.descriptor))
        #expect(targets.count == 2, "the epoll set of a new queue: \(targets)")
        return targets
    }

    /// Adds, modifies and deletes read and write knotes on `fd`; every change must be EBADF.
    func expectRefused(_ q: KQueue, _ fd: CInt, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for change in [
            readEvent(fd), readEvent(fd, [.add, .clear]), readEvent(fd, .delete),
            writeEvent(fd), writeEvent(fd, .delete), readEvent(fd, .disable),
        ] {
            let error = try outcome(q, change)
            #expect(
                error == .badFileDescriptor,
                "\(change.filter) \(change.flags) on the queue's descriptor \(fd): \(error.map { "\($0)" } ?? "accepted")",
                sourceLocation: sourceLocation)
        }
    }

    @Test("issue 10: a read or write change for the queue's eventfd or timerfd is EBADF; timers still wake a blocked kevent")
    func timerStillWakes() throws {
        let q = try KQueue()
        for fd in try internalDescriptors(q) { try expectRefused(q, fd) }
        #expect(epollTargets(q.descriptor)?.count == 2)

        let start = now()
        try q.kevent(changes: [timer(1, [.add, .oneshot], data: 50)])
        let events = try poll(q, timeout: .seconds(20))
        let elapsed = now() - start
        #expect(events.map(\.ident) == [1])
        #expect(elapsed >= ms(50))
        #expect(elapsed < ms(50) + lateness, "a 50 ms timer woke the waiter after \(elapsed / 1_000_000) ms")
    }

    @Test("issue 10: after changes naming the queue's descriptors, a trigger and close() still wake blocked threads")
    func triggerAndCloseStillWake() throws {
        let q = try KQueue()
        for fd in try internalDescriptors(q) { try expectRefused(q, fd) }
        try q.kevent(changes: [user(1, [.add, .clear])])

        // A finite timeout, so that a waiter that is never woken still returns and the test reports.
        func startWaiter() -> (TestThread, Shared<Result<[KEvent], Errno>?>) {
            let outcome = Shared<Result<[KEvent], Errno>?>(nil)
            let thread = TestThread {
                let result = Result { () throws(Errno) -> [KEvent] in try poll(q, timeout: .seconds(30)) }
                outcome.withLock { $0 = result }
            }
            return (thread, outcome)
        }

        let (triggered, triggerOutcome) = startWaiter()
        sleep(.milliseconds(50))
        let triggerTime = now()
        try q.kevent(changes: [user(1, fflags: .trigger)])
        #expect(triggered.join(limit: .seconds(60)))
        let woken = now() - triggerTime
        #expect(woken < lateness, "the trigger woke the waiter after \(woken / 1_000_000) ms")
        #expect(try triggerOutcome.value?.get().map(\.ident) == [1])

        let (closed, closeOutcome) = startWaiter()
        sleep(.milliseconds(50))
        let closeTime = now()
        q.close()
        #expect(closed.join(limit: .seconds(60)))
        let released = now() - closeTime
        #expect(released < lateness, "close() released the waiter after \(released / 1_000_000) ms")
        guard case .failure(let error)? = closeOutcome.value else {
            Issue.record("the waiter released by close(): \(String(describing: closeOutcome.value))")
            return
        }
        #expect(error == .badFileDescriptor)
    }

    @Test("issue 10: a read change for a process knote's pidfd is EBADF and the exit is still reported")
    func pidfdRefused() throws {
        let pid = try spawnShell("exec sleep 30")
        defer { reap(pid) }
        let q = try KQueue()
        let before = try internalDescriptors(q)
        try q.kevent(changes: [KEvent(ident: UInt(pid), filter: .proc, flags: .add, fflags: .exit, udata: 4)])
        let pidfds = try #require(epollTargets(q.descriptor)).filter { !before.contains($0) }
        #expect(pidfds.count == 1)
        for fd in pidfds { try expectRefused(q, fd) }
        kill(pid, SIGKILL)
        let (events, _) = try waitForEvents(q, limit: .seconds(30))
        #expect(events.map(\.filter) == [.proc], "after the kill: \(events)")
        #expect(events.first?.udata == 4)
    }

    @Test("issue 10: a number the queue takes for a pidfd drops the knotes a closed descriptor left there")
    func pidfdTakesStaleNumber() throws {
        // The kernel hands out the lowest free number, so a descriptor closed just before the
        // queue opens a pidfd usually lends it its number; tests running in parallel may take
        // it first, so this tries a few times and checks whenever the numbers meet.
        var met = false
        for _ in 0..<50 where !met {
            let pid = try spawnShell("exec sleep 30")
            defer {
                kill(pid, SIGKILL)
                reap(pid)
            }
            let q = try KQueue()
            let before = try internalDescriptors(q)
            let stale = eventfd(0, ckq_EFD_CLOEXEC | ckq_EFD_NONBLOCK)
            try #require(stale >= 0)
            var one: UInt64 = 1
            try #require(write(stale, &one, 8) == 8)
            // Readable, level-triggered: queued for delivery, then closed without EV_DELETE.
            try q.kevent(changes: [readEvent(stale, udata: 1)])
            close(stale)
            try q.kevent(changes: [KEvent(ident: UInt(pid), filter: .proc, flags: .add, fflags: .exit, udata: 2)])
            let pidfds = try #require(epollTargets(q.descriptor)).filter { !before.contains($0) }
            guard pidfds == [stale] else { continue }
            met = true
            kill(pid, SIGKILL)
            waitUntilExited(pid)  // the pidfd is readable before the queue looks
            let (events, _) = try waitForEvents(q, limit: .seconds(30))
            #expect(events.map(\.udata) == [2], "the pidfd took number \(stale); the queue returned \(events)")
        }
        if !met { print("the queue's pidfd never took the closed descriptor's number in 50 tries; nothing checked") }
    }
}
#endif
