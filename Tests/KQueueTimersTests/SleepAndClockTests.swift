#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KQueueTimers
import Testing

/// Behaviour of the async side: ``KQueueClock`` as a `Clock`, `sleep`, cancellation, and the
/// ``TimerTicks`` sequence.
@Suite("Sleep and clocks")
struct SleepAndClockTests {
    /// Lateness tolerated before calling a sleep lost. A sleeping task resumes on the
    /// cooperative pool, which tests blocking in kevent can keep busy for seconds: this bounds
    /// "it woke", not precision (the benchmarks measure that).
    static let lateness: Int64 = 30_000_000_000

    // MARK: - KQueueClock

    @Test("KQueueClock.now is CLOCK_MONOTONIC: bracketed by clock_gettime reads, and never goes back")
    func clockIsMonotonic() {
        let clock = KQueueClock()
        for _ in 0..<1_000 {
            let before = schedulerMonotonicNow()
            let now = clock.now.nanoseconds
            let after = schedulerMonotonicNow()
            #expect(before <= now && now <= after)
        }
        var previous = clock.now
        var wentBack = 0
        for _ in 0..<10_000 {
            let now = clock.now
            if now < previous { wentBack += 1 }
            previous = now
        }
        #expect(wentBack == 0)
        let scheduler = KQueueLoop.shared
        let before = schedulerMonotonicNow()
        let now = scheduler.now.nanoseconds
        #expect(now >= before && now <= schedulerMonotonicNow())
    }

    @Test("KQueueClock defaults to the shared scheduler, has a 1 ns resolution, and its instants saturate")
    func clockBasics() throws {
        #expect(KQueueClock().loop === KQueueLoop.shared)
        let scheduler = try KQueueLoop()
        defer { scheduler.shutdown() }
        #expect(KQueueClock(loop: scheduler).loop === scheduler)
        #expect(KQueueClock().minimumResolution == .nanoseconds(1))

        let instant = KQueueClock.Instant(nanoseconds: 1_000)
        #expect(instant.advanced(by: .microseconds(2)).nanoseconds == 3_000)
        #expect(instant.duration(to: KQueueClock.Instant(nanoseconds: 250)) == .nanoseconds(-750))
        #expect(instant < instant.advanced(by: .nanoseconds(1)))
        #expect(KQueueClock.Instant(nanoseconds: .max - 5).advanced(by: .seconds(1)).nanoseconds == .max)
        #expect(KQueueClock.Instant(nanoseconds: .min + 5).advanced(by: .seconds(-1)).nanoseconds == .min)
    }

    // MARK: - Sleep

    @Test("Task.sleep(for: 20 ms, clock: KQueueClock()) never returns early")
    func taskSleepNotEarly() async throws {
        let clock = KQueueClock()
        // On the loop, so that waking does not wait for a thread of the cooperative pool, which
        // other tests may hold for a long time on a loaded machine.
        try await Task(executorPreference: clock.loop) {
            for _ in 0..<5 {
                let start = schedulerMonotonicNow()
                try await Task.sleep(for: .milliseconds(20), clock: clock)
                let elapsed = schedulerMonotonicNow() - start
                #expect(elapsed >= 20_000_000, "woke \(20_000_000 - elapsed) ns early")
                #expect(elapsed < 20_000_000 + Self.lateness)
            }
        }.value
    }

    @Test("KQueueClock().sleep(until:) returns at or after the deadline; a past deadline returns promptly")
    func clockSleepUntil() async throws {
        let clock = KQueueClock()
        // On the loop: see taskSleepNotEarly.
        try await Task(executorPreference: clock.loop) {
            let deadline = clock.now.advanced(by: .milliseconds(15))
            try await clock.sleep(until: deadline)
            #expect(clock.now >= deadline)
            #expect(clock.now.nanoseconds - deadline.nanoseconds < Self.lateness)

            let start = clock.now
            try await clock.sleep(until: start.advanced(by: .seconds(-1)))
            #expect(clock.now.nanoseconds - start.nanoseconds < Self.lateness)
        }.value
    }

    @Test("KQueueLoop.sleep(for:) and sleep(until:) resume at or after the deadline")
    func schedulerSleep() async throws {
        let scheduler = try KQueueLoop()
        defer { scheduler.shutdown() }
        let start = scheduler.now
        try await scheduler.sleep(for: .milliseconds(10))
        #expect(scheduler.now >= start.advanced(by: .milliseconds(10)))
        let deadline = scheduler.now.advanced(by: .milliseconds(10))
        try await scheduler.sleep(until: deadline)
        #expect(scheduler.now >= deadline)
        #expect(scheduler.pendingCount == 0)
    }

    @Test("100 concurrent sleepers on one scheduler all resume, none early")
    func concurrentSleepers() async throws {
        let scheduler = try KQueueLoop()
        defer { scheduler.shutdown() }
        let early = try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<100 {
                group.addTask {
                    let deadline = scheduler.now.advanced(by: .microseconds(Int.random(in: 0...50_000)))
                    try await scheduler.sleep(until: deadline)
                    return deadline.nanoseconds - schedulerMonotonicNow()
                }
            }
            return try await group.reduce(into: [Int64]()) { $0.append($1) }.filter { $0 > 0 }
        }
        #expect(early.isEmpty, "\(early.count) sleepers woke early")
        #expect(scheduler.pendingCount == 0)
    }

    @Test("Cancelling a task sleeping for 60 s ends it promptly with CancellationError; pendingCount drops at once")
    func cancelLongSleep() async throws {
        let scheduler = try KQueueLoop()
        defer { scheduler.shutdown() }
        let clock = KQueueClock(loop: scheduler)
        // An hour: far beyond how long a loaded machine may keep this task from running.
        let other = scheduler.schedule(after: .seconds(3600)) {}
        let sleeper = Task { try await Task.sleep(for: .seconds(60), clock: clock) }
        #expect(await schedulerEventually { scheduler.pendingCount == 2 })
        await schedulerPause(.milliseconds(10))  // let the sleeper finish suspending

        let start = schedulerMonotonicNow()
        sleeper.cancel()
        #expect(scheduler.pendingCount == 1, "the cancelled sleep's timer was not freed at once")
        let result = await sleeper.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(schedulerMonotonicNow() - start < Self.lateness)
        #expect(other.isPending)
    }

    @Test("Sleeping in an already cancelled task throws CancellationError at once and leaves no timer")
    func sleepWhenAlreadyCancelled() async throws {
        let scheduler = try KQueueLoop()
        defer { scheduler.shutdown() }
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await Task.sleep(for: .seconds(60), clock: KQueueClock(loop: scheduler))
        }
        let result = await task.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(scheduler.pendingCount == 0)
    }

    @Test("Sleeps cancelled around their deadline each end exactly once, by returning or by CancellationError")
    func cancelRacesFire() async throws {
        let scheduler = try KQueueLoop()
        defer { scheduler.shutdown() }
        let outcomes = try await withThrowingTaskGroup(of: (returned: Bool, early: Bool).self) { group in
            for _ in 0..<300 {
                let deadline = scheduler.now.advanced(by: .microseconds(Int.random(in: 0...2_000)))
                let sleeper = Task { () -> Int64? in
                    do {
                        try await scheduler.sleep(until: deadline)
                        return schedulerMonotonicNow()
                    } catch is CancellationError {
                        return nil
                    }
                }
                group.addTask {
                    try await Task.sleep(for: .microseconds(Int.random(in: 0...2_000)))
                    sleeper.cancel()
                    guard let woke = try await sleeper.value else { return (false, false) }
                    return (true, woke < deadline.nanoseconds)
                }
            }
            return try await group.reduce(into: [(returned: Bool, early: Bool)]()) { $0.append($1) }
        }
        #expect(outcomes.count == 300)
        #expect(!outcomes.contains { $0.early }, "a sleep returned normally before its deadline")
        #expect(await schedulerEventually { scheduler.pendingCount == 0 })
    }

    // MARK: - Ticks

    @Test("ticks(every: 10 ms) yields ticks on the grid, never early, and ends when the iterating task is cancelled")
    func ticksSequence() async throws {
        let scheduler = try KQueueLoop()
        defer { scheduler.shutdown() }
        let period: Int64 = 10_000_000
        let start = scheduler.now
        let log = SchedulerLog<(deadline: Int64, missed: Int, now: Int64)>()
        // On the loop, so that each tick's wake-up does not wait for a thread of the cooperative
        // pool, which other tests may hold for a long time on a loaded machine.
        let consumer = Task(executorPreference: scheduler) {
            for await tick in scheduler.ticks(every: .milliseconds(10), startingAt: start) {
                log.append((tick.deadline.nanoseconds, tick.missed, KQueueClock().now.nanoseconds))
            }
            return "ended"
        }
        #expect(await schedulerEventually { log.count >= 10 })
        consumer.cancel()
        let ended = await schedulerEventually(timeout: .seconds(5)) { scheduler.pendingCount == 0 }
        #expect(ended, "the sequence's sleep was not freed on cancellation")
        #expect(await consumer.value == "ended")
        let count = log.count
        await schedulerPause(.milliseconds(30))
        #expect(log.count == count, "ticks after the task was cancelled")

        var index: Int64 = 0
        for tick in log.values {
            #expect(tick.now >= tick.deadline, "a tick came before its deadline")
            index += Int64(tick.missed) + 1
            #expect(tick.deadline == start.nanoseconds + index * period, "tick off the grid")
        }
    }

    @Test("ticks() on a ManualClock: exact deadlines, and a consumer that falls 10.5 periods behind gets its policy", arguments: [MissedTickPolicy.burst, .skip, .delay])
    func ticksOnManualClock(policy: MissedTickPolicy) async throws {
        let clock = ManualClock()
        let period: Int64 = 10_000_000
        let log = SchedulerLog<(deadline: Int64, missed: Int)>()
        let paused = SchedulerCounter()
        let resume = SchedulerCounter()
        let consumer = Task {
            for await tick in clock.ticks(every: .nanoseconds(period), missedTicks: policy) {
                log.append((tick.deadline.nanoseconds, tick.missed))
                if log.count == 3 {
                    // A slow consumer: it does not ask for the next tick for a while.
                    paused.increment()
                    while resume.count == 0 { try? await Task.sleep(for: .milliseconds(1)) }
                }
            }
        }
        defer { consumer.cancel() }

        /// Waits until the consumer has logged `count` ticks and waits on its next one.
        func waitForSleeper(afterTicks count: Int) async -> Bool {
            await schedulerEventually { log.count == count && clock.pendingCount == 1 }
        }

        #expect(await waitForSleeper(afterTicks: 0))
        for k in 1...2 {
            clock.advance(by: .nanoseconds(period))
            #expect(await waitForSleeper(afterTicks: k))
        }
        clock.advance(by: .nanoseconds(period))
        #expect(await schedulerEventually { paused.count == 1 })
        #expect(log.values.map(\.deadline) == [1, 2, 3].map { $0 * period })
        #expect(log.values.allSatisfy { $0.missed == 0 })

        // 10.5 periods pass while the consumer is away: ticks 4 to 13 are due.
        clock.advance(by: .nanoseconds(period * 21 / 2))
        #expect(clock.pendingCount == 0)
        resume.increment()
        #expect(await waitForSleeper(afterTicks: 3))
        let now = clock.now.nanoseconds  // 13.5 periods
        switch policy {
        case .burst:
            // Each overdue tick needs an advance; one advance may deliver several, since a
            // tick the resumed consumer asks for while the advance runs is due too.
            for _ in 4...13 where log.count < 13 {
                clock.advance(by: .zero)
                #expect(await schedulerEventually { clock.pendingCount == 1 && log.count > 3 })
            }
            #expect(await waitForSleeper(afterTicks: 13))
            #expect(log.values.dropFirst(3).map(\.deadline) == (4...13).map { Int64($0) * period })
            #expect(log.values.allSatisfy { $0.missed == 0 })
            clock.advance(by: .nanoseconds(period / 2))
            #expect(await waitForSleeper(afterTicks: 14))
            #expect(log.values.last?.deadline == 14 * period)
        case .skip:
            clock.advance(by: .zero)
            #expect(await waitForSleeper(afterTicks: 4))
            #expect(log.values.last?.deadline == 13 * period)
            #expect(log.values.last?.missed == 9)
            clock.advance(by: .nanoseconds(period / 2))
            #expect(await waitForSleeper(afterTicks: 5))
            #expect(log.values.last?.deadline == 14 * period)
            #expect(log.values.last?.missed == 0)
        case .delay:
            clock.advance(by: .zero)
            #expect(await waitForSleeper(afterTicks: 4))
            #expect(log.values.last?.missed == 9)
            if let deadline = log.values.last?.deadline {
                #expect(deadline % period == 0 && deadline >= 4 * period && deadline <= now)
            }
            clock.advance(by: .nanoseconds(period - 1))
            #expect(clock.pendingCount == 1 && log.count == 4, "a tick came before one period after the delayed one")
            clock.advance(by: .nanoseconds(1))
            #expect(await waitForSleeper(afterTicks: 5))
            #expect(log.values.last?.deadline == now + period)
            #expect(log.values.last?.missed == 0)
        }
        consumer.cancel()
        #expect(await schedulerEventually { clock.pendingCount == 0 })
        await consumer.value
    }
}
