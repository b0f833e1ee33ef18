import KQueueTimers
import Testing

/// A debounce: runs the action once the input has been quiet for `delay`.
private actor Debouncer {
    let clock: ManualClock
    let delay: Duration
    private var pending: Task<Void, Never>?
    private(set) var fired: [String] = []

    nonisolated var unownedExecutor: UnownedSerialExecutor { clock.asUnownedSerialExecutor() }

    init(clock: ManualClock, delay: Duration) {
        self.clock = clock
        self.delay = delay
    }

    func input(_ value: String) {
        pending?.cancel()
        pending = Task(executorPreference: clock) { [clock, delay] in
            do {
                try await clock.sleep(for: delay)
            } catch {
                return
            }
            await self.fire(value)
        }
    }

    private func fire(_ value: String) {
        fired.append(value)
    }
}

@Suite("ManualClock as an executor")
struct ManualClockExecutorTests {
    @Test("A task that sleeps an hour has finished once the clock advanced an hour: no yielding, no polling")
    func hourLongSleep() async throws {
        let clock = ManualClock()
        let finished = SchedulerCounter()
        let task = Task(executorPreference: clock) { () -> String in
            try await clock.sleep(for: .seconds(3600))
            finished.increment()
            return "woke at \(clock.now)"
        }
        clock.advance(by: .seconds(3599))
        #expect(finished.count == 0)
        #expect(clock.pendingCount == 1)
        clock.advance(by: .seconds(1))
        #expect(finished.count == 1)
        #expect(try await task.value == "woke at 3600.000000000 s")
        #expect(clock.pendingCount == 0)
    }

    @Test("A task on the clock runs only inside advance or run, and on the calling thread")
    func runsOnlyInsideAdvance() async throws {
        let clock = ManualClock()
        let started = SchedulerCounter()
        let task = Task(executorPreference: clock) { () -> Bool in
            started.increment()
            return clock.isCurrent
        }
        #expect(started.count == 0)
        clock.run()
        #expect(started.count == 1)
        #expect(await task.value)
        #expect(!clock.isCurrent)
    }

    @Test("A debounce fires once, a quiet period after the last input")
    func debounce() async throws {
        let clock = ManualClock()
        let debouncer = Debouncer(clock: clock, delay: .milliseconds(300))
        // The actor runs on the clock: each call is made inside a run of the clock.
        for (offset, value) in [(0, "a"), (100, "ab"), (250, "abc")] {
            clock.advance(to: .init(nanoseconds: Int64(offset) * 1_000_000))
            let call = Task(executorPreference: clock) { await debouncer.input(value) }
            clock.run()
            await call.value
        }
        clock.advance(to: .init(nanoseconds: 549_000_000))
        let early = Task(executorPreference: clock) { await debouncer.fired }
        clock.run()
        #expect(await early.value == [])
        clock.advance(to: .init(nanoseconds: 550_000_000))
        let late = Task(executorPreference: clock) { await debouncer.fired }
        clock.run()
        #expect(await late.value == ["abc"])
    }

    @Test("At one instant: ready jobs run first, then each due timer followed by the jobs it made ready")
    func jobsAndTimersAtEqualInstants() async throws {
        let clock = ManualClock()
        let log = SchedulerLog<String>()
        let deadline = ManualClock.Instant(nanoseconds: 1_000)
        let sleeper = Task(executorPreference: clock) {
            log.append("task starts")
            try await clock.sleep(until: deadline)
            log.append("task wakes")
        }
        clock.schedule(at: deadline) { log.append("timer 1") }
        clock.schedule(at: deadline) { log.append("timer 2") }
        clock.advance(to: deadline)
        try await sleeper.value
        // The task's sleep was scheduled when it ran, after both timers: it fires third.
        #expect(log.values == ["task starts", "timer 1", "timer 2", "task wakes"])
    }

    @Test("advance from inside a callback continues the same run, in order, each callback at its own deadline")
    func reentrantAdvance() {
        let clock = ManualClock()
        let log = SchedulerLog<(String, Int64)>()
        clock.schedule(at: .init(nanoseconds: 10)) {
            log.append(("a", clock.now.nanoseconds))
            clock.advance(to: .init(nanoseconds: 100))
            log.append(("a returns", clock.now.nanoseconds))
        }
        clock.schedule(at: .init(nanoseconds: 10)) { log.append(("b", clock.now.nanoseconds)) }
        clock.schedule(at: .init(nanoseconds: 50)) { log.append(("c", clock.now.nanoseconds)) }
        clock.schedule(at: .init(nanoseconds: 200)) { log.append(("d", clock.now.nanoseconds)) }
        clock.advance(to: .init(nanoseconds: 20))
        let values = log.values
        #expect(values.map(\.0) == ["a", "b", "c", "a returns"])
        #expect(values.map(\.1) == [10, 10, 50, 100])
        #expect(clock.now.nanoseconds == 100)
        clock.advance(to: .init(nanoseconds: 200))
        #expect(log.values.last! == ("d", 200))
    }

    @Test("A periodic timer at the end of time ticks until its next tick cannot be represented, then ends")
    func periodicAtTheEndOfTime() {
        let start = Int64.max - 10_000_000_000
        let clock = ManualClock(now: .init(nanoseconds: start))
        let ticks = SchedulerLog<Int64>()
        let timer = clock.schedule(every: .seconds(1)) { tick in ticks.append(tick.deadline.nanoseconds) }
        clock.advance(by: .seconds(20))
        #expect(ticks.values == (1...10).map { start + Int64($0) * 1_000_000_000 })
        #expect(!timer.isPending)
        #expect(clock.pendingCount == 0)
        #expect(clock.now.nanoseconds == .max)
    }

    @Test("Instants print as seconds with nine decimals, and ticks with their deadline")
    func instantDescription() {
        #expect("\(ManualClock.Instant(nanoseconds: 5_000_250_000))" == "5.000250000 s")
        #expect("\(ManualClock.Instant(nanoseconds: -1_500_000_000))" == "-1.500000000 s")
        #expect("\(KQueueClock.Instant(nanoseconds: 12))" == "0.000000012 s")
        let tick = TimerTick(deadline: ManualClock.Instant(nanoseconds: 2_500_000_000), missed: 3)
        #expect("\(tick)" == "tick at 2.500000000 s, missed 3")
    }
}

@Suite("withTimeout")
struct TimeoutTests {
    @Test("An operation that outlasts its time is cancelled, and withTimeout throws TimeoutError")
    func expiry() async throws {
        let clock = ManualClock()
        let outcome = Task(executorPreference: clock) { () -> String in
            do {
                _ = try await withTimeout(.seconds(5), on: clock) {
                    try await clock.sleep(for: .seconds(60))
                    return "finished"
                }
                return "returned"
            } catch let error as TimeoutError {
                return "timed out after \(error.duration!)"
            }
        }
        clock.advance(by: .seconds(4))
        #expect(clock.pendingCount == 2)
        clock.advance(by: .seconds(1))
        #expect(try await outcome.value == "timed out after 5.0 seconds")
        #expect(clock.pendingCount == 0, "the operation's sleep and the timeout are both freed")
    }

    @Test("An operation that finishes in time returns its value, and the timer is freed at once")
    func finishesInTime() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let value = try await withTimeout(.seconds(60), on: loop) { 42 }
        #expect(value == 42)
        #expect(loop.pendingCount == 0)
    }

    @Test("The operation's own error passes through unchanged")
    func operationError() async throws {
        struct Failure: Error, Equatable {}
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        await #expect(throws: Failure.self) {
            try await withTimeout(.seconds(60), on: loop) { throw Failure() }
        }
        #expect(loop.pendingCount == 0)
    }

    @Test("The caller's cancellation passes through as the operation's CancellationError, not a timeout")
    func outerCancellation() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let task = Task(executorPreference: loop) {
            try await withTimeout(.seconds(60), on: loop) {
                try await loop.sleep(for: .seconds(60))
            }
        }
        #expect(await schedulerEventually { loop.pendingCount == 2 })
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(await schedulerEventually { loop.pendingCount == 0 })
    }

    @Test("On the loop, an expired operation is cancelled in real time, never before its deadline")
    func expiryOnLoop() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let start = loop.now
        await #expect(throws: TimeoutError.self) {
            try await withTimeout(.milliseconds(20), on: loop) {
                try await loop.sleep(for: .seconds(60))
            }
        }
        #expect(loop.now >= start.advanced(by: .milliseconds(20)))
        #expect(loop.pendingCount == 0)
    }

    @Test("A deadline form: withDeadline on a manual clock")
    func deadline() async throws {
        let clock = ManualClock()
        let outcome = Task(executorPreference: clock) { () -> Bool in
            do {
                try await withDeadline(.init(nanoseconds: 1_000), on: clock) {
                    try await clock.sleep(until: .init(nanoseconds: 5_000))
                }
                return false
            } catch is TimeoutError {
                return true
            }
        }
        clock.advance(to: .init(nanoseconds: 1_000))
        #expect(try await outcome.value)
    }
}

@Suite("README snippets")
struct ReadmeSnippetTests {
    @Test("Async code on the loop")
    func asyncOnTheLoop() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let task = Task(executorPreference: loop) {
            try await loop.sleep(for: .milliseconds(10))
            let reply = try await withTimeout(.seconds(1), on: loop) { "fast enough" }
            return (loop.isCurrent, reply)
        }
        let (onLoop, reply) = try await task.value
        #expect(onLoop && reply == "fast enough")
    }

    @Test("Testing with ManualClock")
    func manualClockTimeout() async throws {
        let clock = ManualClock()
        let request = Task(executorPreference: clock) {
            try await withTimeout(.seconds(5), on: clock) { try await clock.sleep(for: .seconds(60)) }
        }
        clock.advance(by: .seconds(5))
        await #expect(throws: TimeoutError.self) { try await request.value }
    }
}
