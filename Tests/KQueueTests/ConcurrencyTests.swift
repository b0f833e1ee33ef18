#if canImport(Glibc)
@preconcurrency import Glibc
#endif
import KQueue
import SystemPackage
import TestSupport
import Testing

/// Several threads on one queue (KQUEUE.md §8, §2 "poll/select on the kq fd").
///
/// Every blocked waiter is released by close() if the event it waits for never comes, so a
/// failing test reports instead of hanging.
@Suite("Concurrency", .blocking)
struct ConcurrencyTests {
    /// What a waiter thread saw.
    enum Outcome: Sendable, Equatable {
        case pending
        case events([KEvent])
        case failed(Errno)
    }

    /// Starts a thread that blocks in kevent(timeout: nil) once and records what it got.
    func waiter(_ q: KQueue, capacity: Int = 8) -> (TestThread, Shared<Outcome>, Shared<Int64>) {
        let outcome = Shared(Outcome.pending)
        let returnedAt = Shared(Int64(0))
        let thread = TestThread {
            do throws(Errno) {
                let events = try poll(q, capacity: capacity, timeout: nil)
                returnedAt.withLock { $0 = now() }
                outcome.withLock { $0 = .events(events) }
            } catch {
                returnedAt.withLock { $0 = now() }
                outcome.withLock { $0 = .failed(error) }
            }
        }
        return (thread, outcome, returnedAt)
    }

    /// Joins `thread`; if it does not finish in time, closes the queue to release it and records a failure.
    func finish(_ thread: TestThread, _ q: KQueue, sourceLocation: SourceLocation = #_sourceLocation) {
        // Generous: under ThreadSanitizer, symbolizing its reports can stall threads for seconds.
        if !thread.join(limit: .seconds(60)) {
            Issue.record("the waiter was not woken", sourceLocation: sourceLocation)
            q.close()
            thread.joinForever()
        }
    }

    @Test("a thread blocked in kevent(timeout: nil) is woken by a NOTE_TRIGGER from another thread")
    func triggerWakesWaiter() throws {
        let q = try KQueue()
        try q.kevent(changes: [user(1, [.add, .clear])])
        let (thread, outcome, returnedAt) = waiter(q)
        sleep(.milliseconds(100))
        #expect(outcome.value == .pending)
        let triggered = now()
        try q.kevent(changes: [user(1, fflags: .trigger, data: 77)])
        finish(thread, q)
        guard case .events(let events) = outcome.value else {
            Issue.record("waiter: \(outcome.value)")
            return
        }
        #expect(events.map(\.ident) == [1])
        #expect(events.first?.data == 77)
        #expect(returnedAt.value >= triggered)
        #expect(try poll(q).isEmpty)
    }

    @Test("a blocked thread is woken by another thread adding a timer that expires soon", arguments: [false, true])
    func timerWakesWaiter(withLongTimer: Bool) throws {
        let q = try KQueue()
        if withLongTimer {
            // The queue's timer is armed an hour ahead; the new timer must re-arm it earlier.
            try q.kevent(changes: [timer(1, fflags: .seconds, data: 3600)])
        }
        let (thread, outcome, returnedAt) = waiter(q)
        sleep(.milliseconds(100))
        #expect(outcome.value == .pending)
        let added = now()
        try q.kevent(changes: [timer(2, [.add, .oneshot], data: 80)])
        finish(thread, q)
        guard case .events(let events) = outcome.value else {
            Issue.record("waiter: \(outcome.value)")
            return
        }
        #expect(events.map(\.ident) == [2])
        #expect(returnedAt.value - added >= ms(80))
        #expect(returnedAt.value - added < ms(80) + lateness)
    }

    @Test("a thread blocked with a finite timeout is woken early by a trigger")
    func triggerWakesFiniteWait() throws {
        let q = try KQueue()
        try q.kevent(changes: [user(1, [.add, .clear])])
        let outcome = Shared(Outcome.pending)
        let thread = TestThread {
            do throws(Errno) {
                let events = try poll(q, timeout: .seconds(30))
                outcome.withLock { $0 = .events(events) }
            } catch { outcome.withLock { $0 = .failed(error) } }
        }
        sleep(.milliseconds(50))
        let start = now()
        try q.kevent(changes: [user(1, fflags: .trigger)])
        finish(thread, q)
        #expect(now() - start < lateness)
        #expect(outcome.value == .events([KEvent(ident: 1, filter: .user, flags: [.add, .clear])]))
    }

    @Test("close() from another thread wakes every blocked waiter, which throws EBADF", arguments: [1, 2, 4])
    func closeWakesWaiters(waiters: Int) throws {
        let q = try KQueue()
        try q.kevent(changes: [user(1, [.add, .clear]), timer(2, fflags: .seconds, data: 3600)])
        let started = (0..<waiters).map { _ in waiter(q) }
        sleep(.milliseconds(100))
        #expect(started.allSatisfy { $0.1.value == .pending })
        q.close()
        #expect(q.descriptor == -1)
        for (thread, outcome, _) in started {
            #expect(thread.join(limit: .seconds(60)))
            if !thread.isFinished {
                // Nothing else can release it; give up on this thread (the test has failed).
                continue
            }
            #expect(outcome.value == .failed(.badFileDescriptor))
        }
        var events = [KEvent](repeating: KEvent(), count: 2)
        #expect(throws: Errno.badFileDescriptor) { _ = try q.kevent(changes: [], events: &events, timeout: nil) }
    }

    @Test("triggers from several threads with two waiters: every EV_CLEAR trigger round is delivered exactly once")
    func manyThreads() throws {
        let q = try KQueue()
        let producers = 4
        let rounds = 200
        // Producer p owns user event p; round r triggers it with data r once round r - 1 was received.
        try q.kevent(changes: (0..<producers).map { user(UInt($0), [.add, .clear]) })
        let received = Shared([Int](repeating: -1, count: producers))
        let duplicates = Shared(0)
        let outOfOrder = Shared(0)
        let foreign = Shared(0)
        let waiters = (0..<2).map { _ in
            TestThread {
                while true {
                    let events: [KEvent]
                    do throws(Errno) {
                        events = try poll(q, capacity: 3, timeout: nil)
                    } catch {
                        return  // closed
                    }
                    for event in events {
                        guard event.filter == .user, event.ident < producers else {
                            if event.filter != .timer { foreign.withLock { $0 += 1 } }
                            continue
                        }
                        received.withLock { seen in
                            let last = seen[Int(event.ident)]
                            if event.data == last {
                                duplicates.withLock { $0 += 1 }
                            } else if event.data != last + 1 {
                                outOfOrder.withLock { $0 += 1 }
                            }
                            seen[Int(event.ident)] = max(last, event.data)
                        }
                    }
                }
            }
        }
        let timedOut = Shared(false)
        let producerThreads = (0..<producers).map { p in
            TestThread {
                for round in 0..<rounds {
                    do throws(Errno) {
                        try q.kevent(changes: [user(UInt(p), fflags: .trigger, data: round)])
                    } catch {
                        return
                    }
                    let deadline = now() + ms(30_000)
                    while received.value[p] < round {
                        if now() > deadline {
                            timedOut.withLock { $0 = true }
                            return
                        }
                        sched_yield()
                    }
                }
            }
        }
        // Churn: other threads add, modify and delete timers and user events meanwhile.
        let stop = Shared(false)
        let churn = (0..<2).map { c in
            TestThread {
                var i = 0
                while !stop.value {
                    let ident = UInt(1000 + c * 100_000 + i % 50)
                    _ = try? q.kevent(changes: [
                        timer(ident, [.add, .oneshot], fflags: .useconds, data: i % 300),
                        user(ident, [.add, .clear], fflags: .trigger), user(ident, .delete),
                    ])
                    if i % 3 == 0 { _ = try? q.kevent(changes: [timer(ident, .delete, data: 0)]) }
                    i += 1
                }
            }
        }
        for thread in producerThreads { finish(thread, q) }
        stop.withLock { $0 = true }
        for thread in churn { finish(thread, q) }
        // Let the waiters drain what is left, then release them.
        sleep(.milliseconds(50))
        q.close()
        for thread in waiters { finish(thread, q) }
        #expect(!timedOut.value, "a producer's trigger was not received within 30 s")
        #expect(received.value == [Int](repeating: rounds - 1, count: producers))
        #expect(duplicates.value == 0)
        #expect(outOfOrder.value == 0)
        #expect(foreign.value == 0)
    }

    @Test("concurrent waiters each get distinct EV_CLEAR events: nothing lost, nothing duplicated")
    func distinctDelivery() throws {
        let q = try KQueue()
        let count = 3000
        let seen = Shared([Int](repeating: 0, count: count))
        let done = Shared(0)
        let waiters = (0..<3).map { _ in
            TestThread {
                while true {
                    let events: [KEvent]
                    do throws(Errno) {
                        events = try poll(q, capacity: 7, timeout: nil)
                    } catch {
                        return
                    }
                    seen.withLock { seen in
                        for event in events where event.filter == .user { seen[Int(event.ident)] += 1 }
                    }
                    done.withLock { $0 += events.count }
                }
            }
        }
        // Oneshot user events, created already triggered, from two threads at once.
        let adders = (0..<2).map { half in
            TestThread {
                for ident in stride(from: half, to: count, by: 2) {
                    _ = try? q.kevent(changes: [user(UInt(ident), [.add, .oneshot], fflags: .trigger)])
                }
            }
        }
        for thread in adders { finish(thread, q) }
        let deadline = now() + ms(60_000)
        while done.value < count && now() < deadline { sleep(.milliseconds(1)) }
        sleep(.milliseconds(50))
        q.close()
        for thread in waiters { finish(thread, q) }
        #expect(done.value == count, "\(done.value) of \(count) events received within 60 s")
        #expect(seen.value.allSatisfy { $0 == 1 })
    }

    #if os(Linux)
    @Test("the queue's descriptor is readable in poll(2) exactly while an event is pending")
    func descriptorPollable() throws {
        let q = try KQueue()
        let fd = q.descriptor
        #expect(!isReadable(fd))
        try q.kevent(changes: [user(1, [.add, .clear]), user(2, .add), timer(3, fflags: .seconds, data: 3600)])
        #expect(!isReadable(fd))

        // A triggered EV_CLEAR event: readable until retrieved.
        try q.kevent(changes: [user(1, fflags: .trigger)])
        #expect(isReadable(fd))
        #expect(isReadable(fd))
        #expect(try poll(q).map(\.ident) == [1])
        #expect(!isReadable(fd))

        // A disabled, triggered event is not pending.
        try q.kevent(changes: [user(1, .disable), user(1, fflags: .trigger)])
        #expect(!isReadable(fd))
        try q.kevent(changes: [user(1, .enable)])
        #expect(isReadable(fd))
        #expect(try poll(q).count == 1)
        #expect(!isReadable(fd))

        // A level-triggered event stays readable after retrieval, until deleted.
        try q.kevent(changes: [user(2, fflags: .trigger)])
        #expect(try poll(q).map(\.ident) == [2])
        #expect(isReadable(fd))
        try q.kevent(changes: [user(2, .delete)])
        #expect(!isReadable(fd))

        // A timer: not readable before it expires, readable once it has, not after retrieval.
        let start = now()
        try q.kevent(changes: [timer(4, [.add, .oneshot], data: 60)])
        #expect(!isReadable(fd) || now() - start >= ms(60))
        #expect(isReadable(fd, timeoutMs: 10_000), "a 60 ms timer did not make the descriptor readable within 10 s")
        #expect(now() - start >= ms(60))
        #expect(try poll(q).map(\.ident) == [4])
        #expect(!isReadable(fd))

        // A periodic timer: readable at each expiration, not in between.
        try q.kevent(changes: [timer(5, data: 1000)])
        #expect(isReadable(fd, timeoutMs: 10_000), "a 1 s timer did not make the descriptor readable within 10 s")
        #expect(try poll(q).map(\.ident) == [5])
        #expect(!isReadable(fd))
        try q.kevent(changes: [timer(5, .delete, data: 0)])

        q.close()
    }

    @Test("another thread blocked in poll(2) on the descriptor wakes when an event becomes pending")
    func descriptorWakesPoller() throws {
        let q = try KQueue()
        let fd = q.descriptor
        try q.kevent(changes: [user(1, [.add, .clear])])
        let readable = Shared<Bool?>(nil)
        let thread = TestThread {
            let result = isReadable(fd, timeoutMs: 10_000)
            readable.withLock { $0 = result }
        }
        sleep(.milliseconds(50))
        #expect(readable.value == nil)
        try q.kevent(changes: [user(1, fflags: .trigger)])
        #expect(thread.join(limit: .seconds(15)))
        #expect(readable.value == true)
        #expect(try poll(q).map(\.ident) == [1])
    }
    #endif
}
