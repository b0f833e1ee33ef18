#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KQueue
import SystemPackage
import TestSupport
import Testing

/// EVFILT_SIGNAL (KQUEUE.md §7.3).
///
/// The signals are sent to the test's own thread (`pthread_kill`), with the signal blocked in
/// that thread, so no other thread of the test process is involved: on Linux the program must
/// block a watched signal in every thread, which a test cannot do for the threads the test
/// runner already started. A no-op handler makes a stray delivery harmless.
@Suite("EVFILT_SIGNAL", .serialized, .blocking)
struct SignalFilterTests {
    /// Runs `body` with `signal` blocked in this thread and a no-op handler installed; drains
    /// what is left pending before unblocking it.
    func withBlocked(_ signal: CInt, _ body: () throws -> Void) throws {
        try withSignalsBlocked([signal], body)
    }

    func send(_ signal: CInt) {
        pthread_kill(pthread_self(), signal)
    }

    func signalEvent(_ signal: CInt, _ flags: KEvent.Flags = [.add], udata: UInt = 0) -> KEvent {
        KEvent(ident: UInt(signal), filter: .signal, flags: flags, udata: udata)
    }

    @Test("a delivery is reported with ident = signal number, data = 1, EV_CLEAR set")
    func delivery() throws {
        try withBlocked(SIGUSR1) {
            let q = try KQueue()
            try q.kevent(changes: [signalEvent(SIGUSR1, udata: 4)])
            #expect(try poll(q).isEmpty)
            send(SIGUSR1)
            let event = try #require(poll(q).first)
            #expect(event.ident == UInt(SIGUSR1) && event.filter == .signal)
            #expect(event.data == 1)
            #expect(event.udata == 4)
            #expect(event.flags.contains(.clear))
            #expect(try poll(q).isEmpty)
            send(SIGUSR1)
            #expect(try poll(q).map(\.data) == [1])
        }
    }

    @Test("deliveries while the knote is disabled are counted and returned at EV_ENABLE")
    func countsWhileDisabled() throws {
        try withBlocked(SIGUSR2) {
            let q = try KQueue()
            try q.kevent(changes: [signalEvent(SIGUSR2, [.add, .disable])])
            send(SIGUSR2)
            #expect(try poll(q).isEmpty)
            send(SIGUSR2)
            #expect(try poll(q).isEmpty)
            try q.kevent(changes: [signalEvent(SIGUSR2, .enable)])
            #expect(try poll(q).map(\.data) == [2])
        }
    }

    @Test("EV_DELETE stops the counting")
    func delete() throws {
        try withBlocked(SIGUSR1) {
            let q = try KQueue()
            try q.kevent(changes: [signalEvent(SIGUSR1), signalEvent(SIGUSR1, .delete)])
            send(SIGUSR1)
            #expect(try poll(q).isEmpty)
            #expect(try outcome(q, signalEvent(SIGUSR1, .delete)) == .noSuchFileOrDirectory)
        }
    }

    @Test("a blocked kevent wakes when the signal arrives")
    func wakesWaiter() throws {
        try withBlocked(SIGUSR1) {
            let q = try KQueue()
            try q.kevent(changes: [signalEvent(SIGUSR1)])
            let me = pthread_self()
            let sender = TestThread {
                sleep(.milliseconds(50))
                pthread_kill(me, SIGUSR1)
            }
            let events = try waitForEvents(q).events
            sender.joinForever()
            #expect(events.map(\.data) == [1])
        }
    }

    #if os(Linux)
    @Test("a signal number outside 1 ... 64 is EINVAL (Linux)", arguments: [0, 65, 1000])
    func invalidSignal(number: Int) throws {
        let q = try KQueue()
        #expect(try outcome(q, KEvent(ident: UInt(number), filter: .signal, flags: .add)) == .invalidArgument)
    }

    @Test("issue 10: a read change for the queue's signalfd or signal mailbox is EBADF and the signal is still counted (Linux)")
    func signalfdRefused() throws {
        try withBlocked(SIGUSR1) {
            let q = try KQueue()
            let before = try #require(epollTargets(q.descriptor))
            try q.kevent(changes: [signalEvent(SIGUSR1, udata: 5)])
            let added = try #require(epollTargets(q.descriptor)).filter { !before.contains($0) }
            #expect(added.count == 2, "the signalfd and the queue's mailbox eventfd: \(added)")
            for fd in added {
                for change in [KEvent(ident: UInt(fd), filter: .read, flags: .add), KEvent(ident: UInt(fd), filter: .read, flags: .delete)] {
                    let error = try outcome(q, change)
                    #expect(error == .badFileDescriptor, "\(change.flags) on \(fd): \(error.map { "\($0)" } ?? "accepted")")
                }
            }
            send(SIGUSR1)
            let events = try poll(q)
            #expect(events.map(\.filter) == [.signal], "after the signal: \(events)")
            #expect(events.first?.udata == 5)
        }
    }
    #endif

    @Test(
        "the signal's handler still runs (BSD: the filter only records the delivery)",
        .disabled(if: isEmulated, "signalfd consumes the signal, so its handler does not run (README, deviations)")
    )
    func handlerRuns() throws {
        let q = try KQueue()
        try q.kevent(changes: [signalEvent(SIGUSR1)])
        SignalFilterTests.handled.withLock { $0 = 0 }
        var action = sigaction()
        #if canImport(Glibc)
        action.__sigaction_handler.sa_handler = { _ in SignalFilterTests.handled.withLock { $0 += 1 } }
        #else
        action.__sigaction_u.__sa_handler = { _ in SignalFilterTests.handled.withLock { $0 += 1 } }
        #endif
        sigaction(SIGUSR1, &action, nil)
        raise(SIGUSR1)
        #expect(try poll(q).map(\.data) == [1])
        #expect(SignalFilterTests.handled.value == 1)
    }

    static let handled = Shared(0)

    @Test(
        "two deliveries before a retrieval count 2 (BSD)",
        .disabled(if: isEmulated, "Linux keeps one pending instance of a standard signal: they coalesce (README)")
    )
    func countsEveryDelivery() throws {
        try withBlocked(SIGUSR1) {
            let q = try KQueue()
            try q.kevent(changes: [signalEvent(SIGUSR1)])
            send(SIGUSR1)
            send(SIGUSR1)
            #expect(try poll(q).map(\.data) == [2])
        }
    }
}
