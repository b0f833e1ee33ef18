#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KQueue
import SystemPackage
import TestSupport
import Testing

/// EVFILT_SIGNAL with several queues: every queue watching a signal counts every delivery of
/// it (KQUEUE.md §7.3; issue 12, item 3).
///
/// Signals are process-wide, and the suites run in parallel: each test uses a signal of its
/// own, which no other suite watches or sends (SignalFilterTests uses SIGUSR1 and SIGUSR2, the
/// loop's tests SIGWINCH and SIGURG). As in SignalFilterTests, the signals are sent to threads
/// of the test that block them (`pthread_kill`): a signal sent to the process could be taken
/// by a thread of the test runner, where it is not blocked (the fork test sends its signals to
/// the process, from a child with one thread). A standard signal sent while one is pending
/// coalesces with it, so each test sends the next only once every queue has counted the last,
/// and asserts exact totals.
@Suite("EVFILT_SIGNAL: every queue counts every delivery", .serialized, .blocking)
struct SignalFanOutTests {
    static let rounds = 20

    @Test("two and three queues watching one signal each count every delivery", arguments: [2, 3])
    func everyQueueCounts(queues count: Int) throws {
        try withSignalsBlocked([SIGPROF]) {
            let queues = try (0..<count).map { _ in try KQueue() }
            for (index, queue) in queues.enumerated() {
                try queue.kevent(changes: [signalChange(SIGPROF, udata: UInt(index))])
            }
            var totals = Array(repeating: 0, count: count)
            for round in 0..<Self.rounds {
                pthread_kill(pthread_self(), SIGPROF)
                // Whichever queue looks first reads the signal; the order changes every round.
                for offset in 0..<count {
                    let index = (round + offset) % count
                    let events = try poll(queues[index])
                    #expect(events.map(\.data) == [1], "round \(round), queue \(index): \(events)")
                    #expect(events.allSatisfy { $0.udata == UInt(index) && $0.ident == UInt(SIGPROF) })
                    totals[index] += events.reduce(0) { $0 + $1.data }
                }
            }
            #expect(totals == Array(repeating: Self.rounds, count: count))
        }
    }

    #if os(Linux)
    @Test("real-time signals sent together are each counted by every queue (Linux queues them)")
    func realTimeSignals() throws {
        let signal = __libc_current_sigrtmin() + 3
        try withSignalsBlocked([signal]) {
            let queues = try (0..<3).map { _ in try KQueue() }
            for queue in queues { try queue.kevent(changes: [signalChange(signal)]) }
            for _ in 0..<5 { pthread_kill(pthread_self(), signal) }
            for queue in queues {
                #expect(try poll(queue).map(\.data) == [5])
            }
        }
    }
    #endif

    @Test("a queue that stops watching (EV_DELETE, close) stops only its own counting; a disabled one keeps counting")
    func stoppingOne() throws {
        try withSignalsBlocked([SIGVTALRM]) {
            let queues = try (0..<3).map { _ in try KQueue() }
            for queue in queues { try queue.kevent(changes: [signalChange(SIGVTALRM)]) }
            func deliver() throws -> [[Int]] {
                pthread_kill(pthread_self(), SIGVTALRM)
                return try queues.map { try poll($0).map(\.data) }
            }
            #expect(try deliver() == [[1], [1], [1]])

            try queues[0].kevent(changes: [signalChange(SIGVTALRM, .delete)])
            #expect(try deliver() == [[], [1], [1]])

            try queues[1].kevent(changes: [signalChange(SIGVTALRM, .disable)])
            #expect(try deliver() == [[], [], [1]])
            #expect(try deliver() == [[], [], [1]])
            try queues[1].kevent(changes: [signalChange(SIGVTALRM, .enable)])
            #expect(try poll(queues[1]).map(\.data) == [2])

            queues[1].close()
            pthread_kill(pthread_self(), SIGVTALRM)
            #expect(try poll(queues[2]).map(\.data) == [1])
            #expect(try poll(queues[0]).isEmpty)

            // Watching again starts from zero: nothing delivered meanwhile is counted.
            try queues[0].kevent(changes: [signalChange(SIGVTALRM)])
            #expect(try poll(queues[0]).isEmpty)
            pthread_kill(pthread_self(), SIGVTALRM)
            #expect(try poll(queues[0]).map(\.data) == [1])
            #expect(try poll(queues[2]).map(\.data) == [1])
        }
    }

    @Test("a signal sent to a thread waiting in kevent is counted by every watching queue, waited on or not")
    func threadWaitingOnAnotherQueue() throws {
        try withSignalsBlocked([SIGIO]) {
            let queues = try (0..<3).map { _ in try KQueue() }
            for queue in queues { try queue.kevent(changes: [signalChange(SIGIO), stopEvent]) }
            // One waiter on each of the first two queues; the third is only polled.
            let waiters = [SignalWaiter(queues[0]), SignalWaiter(queues[1])]
            defer { stop(waiters, on: queues) }
            for round in 1...Self.rounds {
                let target = waiters[round % 2]
                sleep(.milliseconds(2))  // most often the target is waiting by now; counted either way
                pthread_kill(target.thread, SIGIO)
                try #require(waitUntil { waiters.allSatisfy { $0.counted == round } }, "round \(round): \(waiters.map(\.counted))")
            }
            var polled = 0
            while case let events = try poll(queues[2]), !events.isEmpty {
                polled += events.filter { $0.filter == .signal }.reduce(0) { $0 + $1.data }
            }
            #expect(polled == Self.rounds)
        }
    }

    @Test("two threads waiting in kevent on one queue: a signal sent to either is counted once, by the queue and its neighbour")
    func twoWaitersOnOneQueue() throws {
        try withSignalsBlocked([SIGXFSZ]) {
            let queues = try (0..<2).map { _ in try KQueue() }
            for queue in queues { try queue.kevent(changes: [signalChange(SIGXFSZ), stopEvent]) }
            let waiters = [SignalWaiter(queues[0]), SignalWaiter(queues[0])]
            defer { stop(waiters, on: queues) }
            for round in 1...Self.rounds {
                let target = waiters[round % 2]
                sleep(.milliseconds(2))
                pthread_kill(target.thread, SIGXFSZ)
                try #require(
                    waitUntil { waiters.reduce(0) { $0 + $1.counted } == round },
                    "round \(round): \(waiters.map(\.counted))"
                )
            }
            var polled = 0
            while case let events = try poll(queues[1]), !events.isEmpty {
                polled += events.filter { $0.filter == .signal }.reduce(0) { $0 + $1.data }
            }
            #expect(polled == Self.rounds)
            #expect(waiters.reduce(0) { $0 + $1.counted } == Self.rounds)
        }
    }

    #if os(Linux)
    @Test("one signalfd serves every queue, and the last queue to stop watching closes it (Linux)")
    func oneDescriptorReleasedByTheLast() async {
        // In a process of its own, where no other test watches a signal.
        await #expect(processExitsWith: .success) {
            var mask = sigset_t()
            sigemptyset(&mask)
            sigaddset(&mask, SIGXCPU)
            sigaddset(&mask, SIGPROF)
            pthread_sigmask(SIG_BLOCK, &mask, nil)
            func check(_ condition: Bool, _ what: String) {
                if !condition {
                    print("failed: \(what)")
                    exit(1)
                }
            }
            check(signalfdCount() == 0, "no signalfd before any watch")
            let first = try KQueue()
            let second = try KQueue()
            try first.kevent(changes: [KEvent(ident: UInt(SIGXCPU), filter: .signal, flags: .add)])
            check(signalfdCount() == 1, "one signalfd for the first watch")
            try second.kevent(changes: [
                KEvent(ident: UInt(SIGXCPU), filter: .signal, flags: .add),
                KEvent(ident: UInt(SIGPROF), filter: .signal, flags: .add),
            ])
            check(signalfdCount() == 1, "still one signalfd for two queues")
            check(KQueue._signalDispatcherStatus.map { $0.queues == 2 && $0.isOpen } == true, "two queues registered")

            pthread_kill(pthread_self(), SIGXCPU)
            var events = [KEvent](repeating: KEvent(), count: 4)
            check(try second.kevent(changes: [], events: &events, timeout: .zero) == 1 && events[0].data == 1, "second counts")
            check(try first.kevent(changes: [], events: &events, timeout: .zero) == 1 && events[0].data == 1, "first counts")

            try first.kevent(changes: [KEvent(ident: UInt(SIGXCPU), filter: .signal, flags: .delete)])
            check(signalfdCount() == 1, "the signalfd stays while the second queue watches")
            check(KQueue._signalDispatcherStatus.map { $0.queues == 1 && $0.isOpen } == true, "one queue registered")
            try second.kevent(changes: [KEvent(ident: UInt(SIGXCPU), filter: .signal, flags: .delete)])
            check(signalfdCount() == 1, "the signalfd stays while the second queue watches another signal")
            second.close()
            check(signalfdCount() == 0, "the last queue to stop watching closed the signalfd")
            check(KQueue._signalDispatcherStatus.map { $0.queues == 0 && !$0.isOpen } == true, "no queue registered")

            // And a new watch starts it again.
            let third = try KQueue()
            try third.kevent(changes: [KEvent(ident: UInt(SIGXCPU), filter: .signal, flags: .add)])
            check(signalfdCount() == 1, "a new watch opens a signalfd again")
            pthread_kill(pthread_self(), SIGXCPU)
            check(try third.kevent(changes: [], events: &events, timeout: .zero) == 1 && events[0].data == 1, "third counts")
            third.close()
            check(signalfdCount() == 0, "closed again")
            exit(0)
        }
    }

    @Test("a forked child watches signals through a dispatcher of its own and leaves its parent's alone; signals sent to the process are counted by every queue (Linux)")
    func forkedChild() async {
        // In a process of its own, where no other test watches a signal or forks.
        await #expect(processExitsWith: .success) {
            var mask = sigset_t()
            sigemptyset(&mask)
            sigaddset(&mask, SIGXCPU)
            pthread_sigmask(SIG_BLOCK, &mask, nil)
            func check(_ condition: Bool, _ what: String) {
                if !condition {
                    print("failed: \(what)")
                    exit(1)
                }
            }
            let parentQueue = try KQueue()
            try parentQueue.kevent(changes: [KEvent(ident: UInt(SIGXCPU), filter: .signal, flags: .add)])
            var events = [KEvent](repeating: KEvent(), count: 4)
            pthread_kill(pthread_self(), SIGXCPU)
            check(try parentQueue.kevent(changes: [], events: &events, timeout: .zero) == 1, "the parent counts")
            let registrations = epollTargets(parentQueue.descriptor)

            let pid = fork()
            if pid == 0 {
                // The child: one thread, with SIGXCPU blocked, so it is blocked in every thread
                // and a signal sent to the process stays pending for the queues to count.
                var code: CInt = 0
                do {
                    let queues = [try KQueue(), try KQueue()]
                    for queue in queues {
                        try queue.kevent(changes: [KEvent(ident: UInt(SIGXCPU), filter: .signal, flags: .add)])
                    }
                    // A dispatcher of its own, which knows these queues alone (not the parent's too).
                    if KQueue._signalDispatcherStatus?.queues != 2 { code |= 1 }
                    for _ in 0..<5 {
                        kill(getpid(), SIGXCPU)
                        for queue in queues {
                            let count = try queue.kevent(changes: [], events: &events, timeout: .zero)
                            if count != 1 || events[0].data != 1 { code |= 2 }
                        }
                    }
                    parentQueue.close()
                    for queue in queues { queue.close() }
                } catch {
                    code |= 4
                }
                _exit(code)
            }
            check(pid > 0, "fork")
            var status: CInt = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            check(status == 0, "the child's exit status \(status >> 8): 1 = shared dispatcher, 2 = a queue did not count, 4 = error")

            // The child's close left the parent's registration in the epoll set, which the two share.
            check(epollTargets(parentQueue.descriptor) == registrations, "the parent's epoll set is as it was")
            check(KQueue._signalDispatcherStatus.map { $0.queues == 1 && $0.isOpen } == true, "the parent's dispatcher")
            pthread_kill(pthread_self(), SIGXCPU)
            check(try parentQueue.kevent(changes: [], events: &events, timeout: .zero) == 1 && events[0].data == 1, "the parent still counts")
            exit(0)
        }
    }
    #endif
}

/// The change that watches `signal`.
private func signalChange(_ signal: CInt, _ flags: KEvent.Flags = [.add], udata: UInt = 0) -> KEvent {
    KEvent(ident: UInt(signal), filter: .signal, flags: flags, udata: udata)
}

/// A user event that, once triggered, every waiter of the queue sees (no EV_CLEAR): it ends
/// the ``SignalWaiter``s.
private let stopEvent = KEvent(ident: 0x5709, filter: .user, flags: .add)

/// Waits (in 1 ms slices) until `condition` holds or `limit` passes; whether it held.
private func waitUntil(limit: Duration = .seconds(60), _ condition: () -> Bool) -> Bool {
    let deadline = now() + nanoseconds(limit)
    while !condition() {
        if now() >= deadline { return false }
        sleep(.milliseconds(1))
    }
    return true
}

/// A thread's handle, to send it a signal. (`pthread_t` is an integer on Linux and a pointer on
/// Darwin; it is only passed to pthread_kill while the thread runs.)
private struct ThreadHandle: @unchecked Sendable {
    let value: pthread_t
}

/// A thread that waits in kevent on a queue (with no timeout: a signal must wake it), adds up
/// the `data` of the signal events it gets, and ends when the queue returns ``stopEvent``.
private final class SignalWaiter: Sendable {
    private let handle = Shared<ThreadHandle?>(nil)
    private let total = Shared(0)
    let runner: TestThread

    init(_ queue: KQueue) {
        let handle = self.handle
        let total = self.total
        runner = TestThread {
            handle.withLock { $0 = ThreadHandle(value: pthread_self()) }
            while true {
                // EINTR cannot happen (the signals are blocked); any other error ends the waiter,
                // and the test then sees the count stop.
                guard let events = try? poll(queue, timeout: nil) else { return }
                for event in events where event.filter == .signal {
                    total.withLock { $0 += event.data }
                }
                if events.contains(where: { $0.filter == .user }) { return }
            }
        }
        while handle.value == nil { sleep(.milliseconds(1)) }
    }

    var thread: pthread_t { handle.value!.value }
    var counted: Int { total.value }
}

/// Ends the waiters (the stop event, triggered on every queue) and joins them.
private func stop(_ waiters: [SignalWaiter], on queues: [KQueue]) {
    for queue in queues {
        try? queue.kevent(changes: [KEvent(ident: stopEvent.ident, filter: .user, fflags: .trigger)])
    }
    for waiter in waiters { waiter.runner.joinForever() }
}

#if os(Linux)
/// The number of signalfds open in this process (the /proc/self/fd links to
/// "anon_inode:[signalfd]").
func signalfdCount() -> Int {
    guard let directory = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(directory) }
    var count = 0
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard name != "." && name != ".." else { continue }
        var target = [CChar](repeating: 0, count: 256)
        let length = readlink("/proc/self/fd/\(name)", &target, target.count - 1)
        guard length > 0 else { continue }
        if String(decoding: target[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self) == "anon_inode:[signalfd]" {
            count += 1
        }
    }
    return count
}
#endif
