#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KQueue
import SystemPackage
import TestSupport
import Testing

/// A wait whose timeout is whole milliseconds: `KQueue(_waitingInWholeMilliseconds: true)`
/// waits with poll(2) instead of ppoll(2) (elsewhere it is an ordinary queue). Written for
/// epoll_pwait, which kernels before 5.11 used; every wait is ppoll(2) now, to the
/// nanosecond, on every kernel. Issue 10, faults 3 and 11.
@Suite("Waits in whole milliseconds", .blocking)
struct MillisecondWaitTests {
    @Test("a duration becomes whole units rounded up, never down")
    func roundingUp() {
        #expect(Int64(0).dividedRoundingUp(by: 1_000_000) == 0)
        #expect(Int64(1).dividedRoundingUp(by: 1_000_000) == 1)
        #expect(Int64(999_999).dividedRoundingUp(by: 1_000_000) == 1)
        #expect(Int64(1_000_000).dividedRoundingUp(by: 1_000_000) == 1)
        #expect(Int64(1_000_001).dividedRoundingUp(by: 1_000_000) == 2)
        #expect(Int64(10_900_000).dividedRoundingUp(by: 1_000_000) == 11)
        #expect(Int64.max.dividedRoundingUp(by: 1_000_000) == Int64.max / 1_000_000 + 1)
        #expect(Int64.max.dividedRoundingUp(by: 1) == Int64.max)
        #expect(Int64(-1_500_000).dividedRoundingUp(by: 1_000_000) == -1)
    }

    @Test("issue 10: a finite timeout waits at least that long", arguments: [300_000, 1_500_000, 20_200_000])
    func timeoutNotEarly(nanoseconds: Int) throws {
        let q = try KQueue(_waitingInWholeMilliseconds: true)
        let start = now()
        #expect(try poll(q, timeout: .nanoseconds(nanoseconds)).isEmpty)
        let elapsed = now() - start
        #expect(elapsed >= Int64(nanoseconds), "a \(nanoseconds) ns timeout returned after \(elapsed) ns")
        #expect(elapsed < Int64(nanoseconds) + lateness)
    }

    @Test("issue 10: the sub-millisecond rest of a timeout is slept in the kernel, not spun")
    func subMillisecondRestSlept() throws {
        let q = try KQueue(_waitingInWholeMilliseconds: true)
        let rounds = 200
        let wallStart = now()
        let cpuStart = threadCPUTime()
        for _ in 0..<rounds {
            _ = try poll(q, timeout: .microseconds(900))
        }
        let cpu = threadCPUTime() - cpuStart
        let wall = now() - wallStart
        #expect(wall >= Int64(rounds) * 900_000)
        // Rounded up, each call sleeps 1 ms in poll(2) and costs microseconds of CPU; rounded
        // down to 0 ms, each would poll in a loop for its 900 µs, costing about as much CPU as time.
        #expect(cpu * 2 < wall, "\(rounds) waits of 900 µs: \(cpu / 1000) µs of CPU in \(wall / 1000) µs")
    }

    @Test("issue 10: timers never fire early, and a trigger and close() wake a blocked waiter")
    func queueWorks() throws {
        let q = try KQueue(_waitingInWholeMilliseconds: true)
        let start = now()
        try q.kevent(changes: [
            timer(1, [.add, .oneshot], fflags: .useconds, data: 1500),
            timer(2, [.add, .oneshot], fflags: .nseconds, data: 20_300_000),
        ])
        var fired: [UInt: Int64] = [:]
        while fired.count < 2 {
            let (events, at) = try waitForEvents(q, limit: .seconds(30))
            if events.isEmpty { break }
            for event in events { fired[event.ident] = at - start }
        }
        #expect((fired[1] ?? 0) >= 1_500_000, "timer 1 (1.5 ms): \(fired[1].map { "\($0) ns" } ?? "did not fire in 30 s")")
        #expect((fired[2] ?? 0) >= 20_300_000, "timer 2 (20.3 ms): \(fired[2].map { "\($0) ns" } ?? "did not fire in 30 s")")

        try q.kevent(changes: [user(3, [.add, .clear])])
        let outcome = Shared<Result<[KEvent], Errno>?>(nil)
        let waiter = TestThread {
            let result = Result { () throws(Errno) -> [KEvent] in try poll(q, timeout: .seconds(30)) }
            outcome.withLock { $0 = result }
        }
        sleep(.milliseconds(20))
        try q.kevent(changes: [user(3, fflags: .trigger)])
        #expect(waiter.join(limit: .seconds(60)))
        #expect(try outcome.value?.get().map(\.ident) == [3])

        let closed = TestThread { _ = try? poll(q, timeout: nil) }
        sleep(.milliseconds(20))
        q.close()
        #expect(closed.join(limit: .seconds(60)), "close() did not release a waiter within 60 s")
    }
}
