import KQueueTimers
import Testing

/// Behaviour of ``ManualClock``: virtual time that moves only on `advance`, firing due timers
/// synchronously on the caller's thread.
@Suite("ManualClock")
struct ManualClockTests {
    typealias Instant = ManualClock.Instant

    static func at(_ milliseconds: Int64) -> Instant {
        Instant(nanoseconds: milliseconds * 1_000_000)
    }

    @Test("advance fires due timers synchronously, in deadline order, equal deadlines first-in first-out")
    func advanceFiresInOrder() {
        let clock = ManualClock()
        let log = SchedulerLog<String>()
        clock.schedule(at: Self.at(30)) { log.append("c") }
        clock.schedule(at: Self.at(10)) { log.append("a1") }
        clock.schedule(at: Self.at(20)) { log.append("b") }
        clock.schedule(at: Self.at(10)) { log.append("a2") }
        clock.schedule(at: Self.at(10)) { log.append("a3") }
        clock.schedule(at: Self.at(40)) { log.append("d") }
        #expect(clock.pendingCount == 6)

        clock.advance(by: .milliseconds(9))
        #expect(log.values.isEmpty)
        clock.advance(to: Self.at(30))
        #expect(log.values == ["a1", "a2", "a3", "b", "c"], "fired in the advance call, before it returned")
        #expect(clock.now == Self.at(30))
        #expect(clock.pendingCount == 1)
        clock.advance(by: .nanoseconds(9_999_999))
        #expect(log.values.count == 5, "fired a nanosecond early")
        clock.advance(by: .nanoseconds(1))
        #expect(log.values.last == "d")
    }

    @Test("FIFO holds for equal deadlines across many timers and wheel levels")
    func fifoAcrossLevels() {
        let clock = ManualClock()
        let log = SchedulerLog<Int>()
        // Deadlines near and far (seconds and hours away sit on higher wheel levels).
        let deadlines: [Int64] = [5, 5_000, 3_600_000, 5, 5_000, 3_600_000, 1, 3_600_000]
        for (index, deadline) in deadlines.enumerated() {
            clock.schedule(at: Self.at(deadline)) { log.append(index) }
        }
        clock.advance(by: .seconds(7200))
        let expected = deadlines.indices.sorted { (deadlines[$0], $0) < (deadlines[$1], $1) }
        #expect(log.values == expected)
    }

    @Test("now inside a callback equals the timer's deadline")
    func nowInsideCallback() {
        let clock = ManualClock(now: Self.at(1_000))
        let seen = SchedulerLog<(deadline: Instant, now: Instant)>()
        let deadlines = [Self.at(1_001), Instant(nanoseconds: 1_500_000_123), Self.at(2_000), Self.at(9_000)]
        for deadline in deadlines {
            clock.schedule(at: deadline) { seen.append((deadline, clock.now)) }
        }
        clock.advance(by: .seconds(10))
        #expect(seen.count == deadlines.count)
        for entry in seen.values {
            #expect(entry.now == entry.deadline)
        }
        #expect(clock.now == Self.at(11_000))
    }

    @Test("Timers scheduled by callbacks fire in the same advance when due by its target, at their deadline")
    func callbackScheduledTimers() {
        let clock = ManualClock()
        let log = SchedulerLog<(String, Instant)>()
        clock.schedule(at: Self.at(10)) {
            log.append(("first", clock.now))
            clock.schedule(at: Self.at(25)) { log.append(("chained", clock.now)) }
            clock.schedule(after: .milliseconds(100)) { log.append(("too late", clock.now)) }
        }
        clock.schedule(at: Self.at(30)) { log.append(("second", clock.now)) }
        clock.advance(to: Self.at(50))
        let values = log.values
        #expect(values.map(\.0) == ["first", "chained", "second"])
        #expect(values.map(\.1) == [Self.at(10), Self.at(25), Self.at(30)])
        #expect(clock.pendingCount == 1)
        clock.advance(to: Self.at(110))
        #expect(log.values.last?.0 == "too late")
        #expect(log.values.last?.1 == Self.at(110))
    }

    @Test("A timer a callback schedules in the past fires in the same advance, before later timers")
    func callbackScheduledInThePast() {
        let clock = ManualClock()
        let log = SchedulerLog<(String, Instant)>()
        clock.schedule(at: Self.at(20)) {
            clock.schedule(at: Self.at(5)) { log.append(("past", clock.now)) }
        }
        clock.schedule(at: Self.at(40)) { log.append(("later", clock.now)) }
        clock.advance(to: Self.at(100))
        let values = log.values
        #expect(values.map(\.0) == ["past", "later"])
        // Time never goes back: the overdue timer runs at the instant it was scheduled.
        #expect(values.first?.1 == Self.at(20))
        #expect(clock.pendingCount == 0)
    }

    @Test("advance to the past does nothing: no timer fires and time does not go back")
    func advanceToThePast() {
        let clock = ManualClock(now: Self.at(1_000))
        let fired = SchedulerCounter()
        clock.schedule(at: Self.at(1_500)) { fired.increment() }
        clock.advance(to: Self.at(500))
        #expect(clock.now == Self.at(1_000))
        clock.advance(by: .milliseconds(-200))
        #expect(clock.now == Self.at(1_000))
        #expect(fired.count == 0)
        #expect(clock.pendingCount == 1)
        clock.advance(to: Self.at(1_500))
        #expect(fired.count == 1)
    }

    @Test(
        "advance to a past target moves no time but fires the overdue timers, in deadline order",
        arguments: [[300, 700], [700]]
    )
    func advanceToThePastWithOverdueTimers(overdue: [Int64]) {
        let clock = ManualClock(now: Instant(nanoseconds: 1_000))
        let fired = SchedulerLog<Int64>()
        for deadline in overdue.reversed() {
            clock.schedule(at: Instant(nanoseconds: deadline)) { fired.append(deadline) }
        }
        clock.advance(to: Instant(nanoseconds: 500))
        #expect(fired.values == overdue)
        #expect(clock.now == Instant(nanoseconds: 1_000))
        #expect(clock.pendingCount == 0)
    }

    @Test("Cancelling from a callback a timer due in the same advance: false means it still fires, true means it never does")
    func cancelWithinSameAdvance() {
        let clock = ManualClock()
        let log = SchedulerLog<String>()
        let results = SchedulerLog<Bool>()
        let sameInstant = SchedulerBox<TimerHandle?>(nil)
        let later = SchedulerBox<TimerHandle?>(nil)
        clock.schedule(at: Self.at(10)) {
            log.append("a")
            results.append(sameInstant.value!.cancel())
            results.append(later.value!.cancel())
        }
        sameInstant.withLock { $0 = clock.schedule(at: Self.at(10)) { log.append("b") } }
        later.withLock { $0 = clock.schedule(at: Self.at(11)) { log.append("c") } }
        clock.advance(to: Self.at(20))
        let cancelled = results.values
        #expect(cancelled.count == 2)
        if cancelled.count == 2 {
            #expect(log.values.contains("b") == !cancelled[0])
            #expect(log.values.contains("c") == !cancelled[1])
            #expect(cancelled[1], "a timer due later than the callback's instant is still pending")
        }
        #expect(log.values.filter { $0 == "b" }.count <= 1)
    }

    @Test("A timer scheduled at the current instant fires on the next advance, even by zero")
    func dueNowFiresOnZeroAdvance() {
        let clock = ManualClock(now: Self.at(100))
        let fired = SchedulerCounter()
        clock.schedule(at: clock.now) { fired.increment() }
        clock.schedule(at: Self.at(50)) { fired.increment() }
        #expect(fired.count == 0, "scheduling must not fire synchronously")
        clock.advance(by: .zero)
        #expect(fired.count == 2)
        #expect(clock.now == Self.at(100))
    }

    @Test("pendingCount, cancel and isPending track the timers")
    func pendingCountAndCancel() {
        let clock = ManualClock()
        let fired = SchedulerCounter()
        let handles = (1...10).map { index in
            clock.schedule(at: Self.at(Int64(index))) { fired.increment() }
        }
        #expect(clock.pendingCount == 10)
        #expect(handles[2].cancel())
        #expect(!handles[2].cancel())
        #expect(!handles[2].isPending)
        #expect(clock.pendingCount == 9)
        clock.advance(to: Self.at(5))
        #expect(fired.count == 4)
        #expect(clock.pendingCount == 5)
        #expect(!handles[0].isPending)
        #expect(!handles[0].cancel())
        #expect(handles[9].isPending)
        clock.advance(to: Self.at(10))
        #expect(fired.count == 9)
        #expect(clock.pendingCount == 0)
    }

    @Test("A stale handle never affects the timer that reuses its entry")
    func staleHandle() {
        let clock = ManualClock()
        let stale = clock.schedule(at: Self.at(10)) {}
        clock.advance(to: Self.at(10))
        let fired = SchedulerCounter()
        let fresh = clock.schedule(at: Self.at(20)) { fired.increment() }
        #expect(!stale.cancel())
        #expect(!clock.reschedule(stale, to: Self.at(500)))
        #expect(fresh.isPending)
        clock.advance(to: Self.at(20))
        #expect(fired.count == 1)
    }

    @Test("reschedule moves a pending timer earlier or later, counts as newly scheduled for FIFO, and fails once fired")
    func reschedule() {
        let clock = ManualClock()
        let log = SchedulerLog<(String, Instant)>()
        let moveLater = clock.schedule(at: Self.at(10)) { log.append(("later", clock.now)) }
        let moveEarlier = clock.schedule(at: Self.at(100)) { log.append(("earlier", clock.now)) }
        let fixed = clock.schedule(at: Self.at(30)) { log.append(("fixed", clock.now)) }
        #expect(clock.reschedule(moveLater, to: Self.at(30)))
        #expect(clock.reschedule(moveEarlier, after: .milliseconds(5)))
        #expect(clock.pendingCount == 3)
        clock.advance(to: Self.at(9))
        #expect(log.values.map(\.0) == ["earlier"])
        #expect(log.values.map(\.1) == [Self.at(5)])
        clock.advance(to: Self.at(29))
        #expect(log.count == 1, "the moved timer fired at its old deadline")
        clock.advance(to: Self.at(30))
        // moveLater was rescheduled after fixed was scheduled: FIFO puts it second.
        #expect(log.values.map(\.0) == ["earlier", "fixed", "later"])
        #expect(!clock.reschedule(moveLater, to: Self.at(40)))
        #expect(!clock.reschedule(fixed, after: .milliseconds(1)))
        clock.advance(by: .seconds(1))
        #expect(log.count == 3)
    }

    @Test(
        "A handle from another clock never moves this clock's timers",
    )
    func foreignHandleReschedule() {
        let mine = ManualClock()
        let other = ManualClock()
        let fired = SchedulerLog<Instant>()
        let own = mine.schedule(at: Self.at(1_000)) { fired.append(mine.now) }
        let foreign = other.schedule(at: Self.at(1_000)) {}
        #expect(!mine.reschedule(foreign, to: Self.at(1)))
        #expect(own.isPending)
        mine.advance(to: Self.at(500))
        #expect(fired.values.isEmpty, "this clock's own timer was moved by a foreign handle")
        mine.advance(to: Self.at(1_000))
        #expect(fired.values == [Self.at(1_000)])
    }

    @Test("Task.sleep(for:clock:) on a ManualClock resumes after an advance reaches its deadline")
    func taskSleepResumesOnAdvance() async throws {
        let clock = ManualClock()
        let woke = SchedulerLog<Instant>()
        let sleeper = Task {
            try await Task.sleep(for: .seconds(5), clock: clock)
            woke.append(clock.now)
        }
        var registered = false
        for _ in 0..<100_000 where !registered {
            registered = clock.pendingCount == 1
            if !registered { await Task.yield() }
        }
        #expect(registered, "the sleeper never registered its timer")
        clock.advance(by: .seconds(4))
        #expect(clock.pendingCount == 1)
        #expect(woke.values.isEmpty)
        clock.advance(by: .seconds(1))
        #expect(clock.pendingCount == 0)
        try await sleeper.value
        #expect(woke.values == [Self.at(5_000)])
    }

    @Test("clock.sleep(until:) resumes when advanced past the deadline")
    func sleepUntil() async throws {
        let clock = ManualClock()
        let deadline = Self.at(250)
        let sleeper = Task { try await clock.sleep(until: deadline, tolerance: nil) }
        var registered = false
        for _ in 0..<100_000 where !registered {
            registered = clock.pendingCount == 1
            if !registered { await Task.yield() }
        }
        #expect(registered)
        clock.advance(to: Self.at(1_000))
        try await sleeper.value
        #expect(clock.now == Self.at(1_000))
    }

    @Test("Cancelling a task sleeping on a ManualClock ends the sleep with CancellationError and frees its timer at once")
    func taskSleepCancellation() async throws {
        let clock = ManualClock()
        let sleeper = Task { try await Task.sleep(for: .seconds(60), clock: clock) }
        var registered = false
        for _ in 0..<100_000 where !registered {
            registered = clock.pendingCount == 1
            if !registered { await Task.yield() }
        }
        #expect(registered)
        // Let the sleeper finish installing its continuation.
        for _ in 0..<100 { await Task.yield() }
        sleeper.cancel()
        #expect(clock.pendingCount == 0, "the cancelled sleep's timer was not freed at once")
        let result = await sleeper.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(clock.now == Self.at(0))
    }

    @Test("Sleeping in an already cancelled task throws at once and leaves no timer")
    func sleepInCancelledTask() async {
        let clock = ManualClock()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await clock.sleep(until: Self.at(1_000))
        }
        let result = await task.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(clock.pendingCount == 0)
    }

    @Test("reschedule refuses a periodic timer, which keeps its grid")
    func rescheduleRefusesPeriodic() {
        let clock = ManualClock()
        let ticks = SchedulerLog<Int64>()
        let periodic = clock.schedule(every: .nanoseconds(100)) { tick in ticks.append(tick.deadline.nanoseconds) }
        #expect(!clock.reschedule(periodic, to: Instant(nanoseconds: 5)))
        clock.advance(to: Instant(nanoseconds: 250))
        #expect(ticks.values == [100, 200])
        #expect(periodic.cancel())
    }
}
