#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KQueueTimers
import Testing

/// Behaviour of periodic timers (`schedule(every:)`): exact grid and missed-tick policies on a
/// ``ManualClock``, plus real-time checks on a ``KQueueLoop``.
@Suite("Periodic timers")
struct PeriodicTimerTests {
    typealias Instant = ManualClock.Instant

    /// One delivered tick: its grid deadline, its missed count and the clock's now in the callback.
    struct Tick: Sendable, Equatable {
        var deadline: Int64
        var missed: Int
        var now: Int64
    }

    static let policies: [MissedTickPolicy] = [.burst, .skip, .delay]

    // MARK: - Grid on a ManualClock

    @Test("Ticks land exactly on start + k·period, with now equal to each deadline, without drift over 1,000 ticks")
    func exactGridNoDrift() {
        let clock = ManualClock()
        let period: Int64 = 1_000_003  // an odd period, so rounding errors would accumulate
        let start: Int64 = 77
        let ticks = SchedulerLog<Tick>()
        let handle = clock.schedule(every: .nanoseconds(period), startingAt: Instant(nanoseconds: start)) { tick in
            ticks.append(Tick(deadline: tick.deadline.nanoseconds, missed: tick.missed, now: clock.now.nanoseconds))
        }
        // Irregular steps, none a multiple of the period.
        var step: Int64 = 0
        while ticks.count < 1_000 {
            step = step % 5 + 1
            clock.advance(by: .nanoseconds(step * 370_001))
        }
        let values = ticks.values
        for (offset, tick) in values.enumerated() {
            let k = Int64(offset + 1)
            #expect(tick.deadline == start + k * period, "tick \(k) is off the grid")
            #expect(tick.now == tick.deadline)
            #expect(tick.missed == 0)
        }
        #expect(values.count >= 1_000)
        #expect(clock.pendingCount == 1)
        #expect(handle.cancel())
    }

    @Test("One advance over 1,000 periods delivers the same 1,000 exact ticks")
    func oneBigAdvance() {
        let clock = ManualClock(now: Instant(nanoseconds: 5_000))
        let period: Int64 = 999_983
        let ticks = SchedulerLog<Tick>()
        clock.schedule(every: .nanoseconds(period)) { tick in
            ticks.append(Tick(deadline: tick.deadline.nanoseconds, missed: tick.missed, now: clock.now.nanoseconds))
        }
        clock.advance(by: .nanoseconds(1_000 * period))
        let values = ticks.values
        #expect(values.count == 1_000)
        #expect(values.map(\.deadline) == (1...1_000).map { 5_000 + Int64($0) * period }, "default start is now")
        #expect(values.allSatisfy { $0.now == $0.deadline && $0.missed == 0 })
    }

    @Test(
        "Advancing 10.5 periods in one step fires each tick at its own deadline: no policy misses a tick",
        arguments: PeriodicTimerTests.policies
    )
    func longAdvanceIsNotAStall(policy: MissedTickPolicy) {
        // ManualClock.advance fires one deadline at a time with now at that deadline, so a
        // periodic timer is never behind its grid in virtual time, whatever the policy.
        let clock = ManualClock()
        let period: Int64 = 10_000_000
        let ticks = SchedulerLog<Tick>()
        clock.schedule(every: .nanoseconds(period), missedTicks: policy) { tick in
            ticks.append(Tick(deadline: tick.deadline.nanoseconds, missed: tick.missed, now: clock.now.nanoseconds))
        }
        clock.advance(by: .nanoseconds(period * 21 / 2))
        #expect(ticks.values == (1...10).map { Tick(deadline: $0 * period, missed: 0, now: $0 * period) })
        clock.advance(by: .nanoseconds(period / 2))
        #expect(ticks.values.last == Tick(deadline: 11 * period, missed: 0, now: 11 * period))
    }

    // MARK: - Missed-tick policies (a grid that is 10.5 periods behind)

    /// A clock at 1 s and a periodic timer whose grid started 10.5 periods earlier: ten ticks
    /// are overdue when the next advance comes.
    static func stalled(_ policy: MissedTickPolicy) -> (ManualClock, SchedulerLog<Tick>, period: Int64, start: Int64) {
        let clock = ManualClock(now: Instant(nanoseconds: 1_000_000_000))
        let period: Int64 = 10_000_000
        let start = clock.now.nanoseconds - period * 21 / 2
        let ticks = SchedulerLog<Tick>()
        clock.schedule(every: .nanoseconds(period), startingAt: Instant(nanoseconds: start), missedTicks: policy) { tick in
            ticks.append(Tick(deadline: tick.deadline.nanoseconds, missed: tick.missed, now: clock.now.nanoseconds))
        }
        return (clock, ticks, period, start)
    }

    @Test("burst after a stall delivers every missed tick back to back, each with missed 0, then stays on the grid")
    func burstAfterStall() {
        let (clock, ticks, period, start) = Self.stalled(.burst)
        let now = clock.now.nanoseconds
        clock.advance(by: .zero)
        #expect(ticks.values == (1...10).map { Tick(deadline: start + $0 * period, missed: 0, now: now) })
        clock.advance(by: .nanoseconds(period / 2))
        #expect(ticks.count == 11)
        #expect(ticks.values.last == Tick(deadline: start + 11 * period, missed: 0, now: start + 11 * period))
    }

    @Test("skip after a stall delivers one tick at the latest grid point with missed = skipped ticks, and stays on the grid")
    func skipAfterStall() {
        let (clock, ticks, period, start) = Self.stalled(.skip)
        let now = clock.now.nanoseconds
        clock.advance(by: .zero)
        #expect(ticks.values == [Tick(deadline: start + 10 * period, missed: 9, now: now)])
        clock.advance(by: .nanoseconds(period / 2 - 1))
        #expect(ticks.count == 1, "a tick came before the next grid point")
        clock.advance(by: .nanoseconds(1 + period))
        #expect(ticks.values.dropFirst() == [
            Tick(deadline: start + 11 * period, missed: 0, now: start + 11 * period),
            Tick(deadline: start + 12 * period, missed: 0, now: start + 12 * period),
        ])
    }

    @Test("delay after a stall delivers one tick with missed = skipped ticks and restarts the grid from that moment")
    func delayAfterStall() {
        let (clock, ticks, period, start) = Self.stalled(.delay)
        let now = clock.now.nanoseconds
        clock.advance(by: .zero)
        let first = ticks.values
        #expect(first.count == 1)
        if let tick = first.first {
            #expect(tick.missed == 9)
            #expect(tick.now == now)
            // The tick stands for a point of the old grid that is due.
            #expect((tick.deadline - start) % period == 0)
            #expect(tick.deadline > start && tick.deadline <= now)
        }
        clock.advance(by: .nanoseconds(period - 1))
        #expect(ticks.count == 1, "a tick came before one period after the delayed one")
        clock.advance(by: .nanoseconds(1 + period))
        #expect(ticks.values.dropFirst() == [
            Tick(deadline: now + period, missed: 0, now: now + period),
            Tick(deadline: now + 2 * period, missed: 0, now: now + 2 * period),
        ])
    }

    // MARK: - Cancel

    @Test("Cancelling a periodic timer stops its ticks; cancel returns true once", arguments: PeriodicTimerTests.policies)
    func cancelStopsTicks(policy: MissedTickPolicy) {
        let clock = ManualClock()
        let ticks = SchedulerCounter()
        let handle = clock.schedule(every: .milliseconds(10), missedTicks: policy) { _ in ticks.increment() }
        #expect(clock.pendingCount == 1, "a periodic timer counts as one")
        clock.advance(by: .milliseconds(35))
        #expect(ticks.count == 3)
        #expect(handle.isPending)
        #expect(handle.cancel())
        #expect(!handle.isPending)
        #expect(!handle.cancel())
        #expect(clock.pendingCount == 0)
        clock.advance(by: .seconds(1))
        #expect(ticks.count == 3)
    }

    @Test("Cancelling from inside the tick callback stops further ticks, even within the same advance")
    func cancelFromCallback() {
        let clock = ManualClock()
        let ticks = SchedulerCounter()
        let handle = SchedulerBox<TimerHandle?>(nil)
        let results = SchedulerLog<Bool>()
        let periodic = clock.schedule(every: .milliseconds(10)) { _ in
            if ticks.increment() == 3, let own = handle.value {
                results.append(own.cancel())
            }
        }
        handle.withLock { $0 = periodic }
        clock.advance(by: .seconds(1))
        #expect(ticks.count == 3)
        #expect(results.values == [true])
        #expect(!periodic.isPending)
        #expect(clock.pendingCount == 0)
    }

    @Test(
        "A tick due at the same instant as the callback that cancels its timer does not run after cancel returned true",
    )
    func cancelBeforeSameInstantTick() {
        let clock = ManualClock()
        let log = SchedulerLog<String>()
        let periodic = SchedulerBox<TimerHandle?>(nil)
        // Scheduled first, so it runs before the periodic timer's first tick at 10 ms.
        clock.schedule(at: Instant(nanoseconds: 10_000_000)) {
            log.append("cancel returned \(periodic.value!.cancel())")
        }
        periodic.withLock { $0 = clock.schedule(every: .milliseconds(10)) { _ in log.append("tick") } }
        clock.advance(by: .milliseconds(35))
        let values = log.values
        // Either the cancel prevented the tick (true, no tick) or it came too late (false, tick).
        #expect(values == ["cancel returned true"] || values == ["cancel returned false", "tick"], "\(values)")
        #expect(clock.pendingCount == 0)
    }

    @Test("One-shot timers interleave with a periodic timer's ticks in deadline order")
    func interleaving() {
        let clock = ManualClock()
        let log = SchedulerLog<String>()
        clock.schedule(every: .milliseconds(10)) { tick in log.append("tick \(tick.deadline.nanoseconds / 1_000_000)") }
        clock.schedule(at: Instant(nanoseconds: 15_000_000)) { log.append("once 15") }
        clock.schedule(at: Instant(nanoseconds: 20_000_000)) { log.append("once 20") }
        clock.advance(by: .milliseconds(30))
        // At 20 ms the one-shot was scheduled before the periodic timer re-armed its tick.
        #expect(log.values == ["tick 10", "once 15", "once 20", "tick 20", "tick 30"])
    }

    // MARK: - Real time

    @Test("Real time: a 10 ms periodic timer ticks on its grid, never early, about once per period")
    func realTimeGrid() async throws {
        let scheduler = try KQueueLoop()
        defer { scheduler.shutdown() }
        let period: Int64 = 10_000_000
        let start = scheduler.now.nanoseconds
        let ticks = SchedulerLog<Tick>()
        let handle = scheduler.schedule(every: .nanoseconds(period), startingAt: KQueueClock.Instant(nanoseconds: start)) { tick in
            ticks.append(Tick(deadline: tick.deadline.nanoseconds, missed: tick.missed, now: KQueueClock().now.nanoseconds))
        }
        // About 300 ms: until the grid point 30 has been delivered (bounded by a generous timeout).
        #expect(await schedulerEventually(timeout: .seconds(10)) { (ticks.values.last?.deadline ?? 0) >= start + 30 * period })
        #expect(handle.cancel())
        let cancelledAt = scheduler.now.nanoseconds
        await schedulerPause(.milliseconds(30))
        let values = ticks.values
        #expect(values.allSatisfy { $0.now >= $0.deadline }, "a tick ran before its deadline")
        #expect(values.allSatisfy { ($0.deadline - start) % period == 0 }, "a tick is off the grid")
        #expect(values.allSatisfy { $0.now - $0.deadline < 500_000_000 })
        // skip: each tick accounts for itself and the points it skipped, so the grid index of
        // every tick is the sum of (missed + 1) so far.
        var index: Int64 = 0
        for tick in values {
            index += Int64(tick.missed) + 1
            #expect(tick.deadline == start + index * period)
        }
        // Never more ticks than grid points passed; on a loaded machine a few may be skipped.
        let passed = Int((cancelledAt - start) / period)
        #expect(values.count <= passed)
        #expect(values.count >= 10, "only \(values.count) ticks for \(passed) grid points")
        #expect(scheduler.pendingCount == 0)
    }

    @Test(
        "Real time: after the scheduler's thread stalls for 10.5 periods, each policy catches up as documented",
        arguments: PeriodicTimerTests.policies
    )
    func realTimeStall(policy: MissedTickPolicy) async throws {
        let scheduler = try KQueueLoop()
        defer { scheduler.shutdown() }
        let period: Int64 = 10_000_000
        let start = scheduler.now.nanoseconds
        let ticks = SchedulerLog<Tick>()
        let handle = scheduler.schedule(
            every: .nanoseconds(period),
            startingAt: KQueueClock.Instant(nanoseconds: start),
            missedTicks: policy
        ) { tick in
            ticks.append(Tick(deadline: tick.deadline.nanoseconds, missed: tick.missed, now: KQueueClock().now.nanoseconds))
        }
        // Block the scheduler's thread for 105 ms, starting between grid points 1 and 2.
        let stall = SchedulerBox<(from: Int64, to: Int64)>((0, 0))
        scheduler.schedule(at: KQueueClock.Instant(nanoseconds: start + period * 3 / 2)) {
            let from = KQueueClock().now.nanoseconds
            usleep(105_000)
            stall.withLock { $0 = (from, KQueueClock().now.nanoseconds) }
        }
        #expect(await schedulerEventually(timeout: .seconds(10)) {
            stall.value.to != 0 && ticks.values.contains { $0.now > stall.value.to + 3 * period }
        })
        #expect(handle.cancel())
        let values = ticks.values
        let (from, to) = stall.value
        #expect(values.allSatisfy { $0.now >= $0.deadline }, "a tick ran before its deadline")
        // Ticks taken after the stall; the first that missed some is the catch-up tick (a tick
        // collected in the same batch as the stalling callback may come first, with missed 0).
        let after = values.filter { $0.now >= to }
        #expect(from >= start + period * 3 / 2)
        switch policy {
        case .burst:
            // Every grid point is delivered, in order, each with missed 0.
            #expect(values.allSatisfy { $0.missed == 0 })
            #expect(values.map(\.deadline) == (1...Int64(values.count)).map { start + $0 * period })
            #expect(after.count >= 10, "the missed ticks were not all delivered")
        case .skip:
            // A tick taken in the same turn as the stalling callback (on a slow machine it
            // may have missed one) has a deadline before the stall began: not the catch-up.
            let caughtUp = after.first { $0.missed > 0 && $0.deadline > from }
            #expect((caughtUp?.missed ?? 0) >= 9, "after a 105 ms stall the catch-up tick skipped only \(caughtUp?.missed ?? 0)")
            var index: Int64 = 0
            for tick in values {
                index += Int64(tick.missed) + 1
                #expect(tick.deadline == start + index * period, "skip left the grid")
            }
            // The catch-up tick stands for the latest grid point due when it was taken.
            if let tick = caughtUp {
                #expect(tick.deadline <= tick.now && tick.now - tick.deadline < 500_000_000)
                #expect(tick.deadline >= to - period)
            }
        case .delay:
            guard let delayed = after.first(where: { $0.missed > 0 && $0.deadline > from }),
                let position = after.firstIndex(of: delayed), position + 1 < after.count
            else {
                Issue.record("no catch-up tick followed by another tick after the stall")
                return
            }
            #expect(delayed.missed >= 9, "after a 105 ms stall the delayed tick skipped only \(delayed.missed)")
            // It stands for the latest grid point due when it was taken, on the old grid.
            #expect(delayed.deadline <= delayed.now && delayed.deadline >= to - period)
            // On the start's grid unless a tick before it missed some already (a loaded machine
            // stalled the loop earlier), which restarted the grid then.
            if values.prefix(while: { $0 != delayed }).allSatisfy({ $0.missed == 0 }) {
                #expect((delayed.deadline - start) % period == 0)
            }
            // The grid restarts from the moment the delayed tick was taken: after the stall
            // ended, and no later than its callback ran. The next tick is grid point
            // missed + 1 of the new grid (on a loaded machine it may itself have missed some,
            // and then it stands for the latest point due on the new grid).
            let next = after[position + 1]
            let restart = next.deadline - Int64(next.missed + 1) * period
            #expect(restart >= to)
            #expect(restart <= delayed.now)
        }
    }

    @Test(
        "Real time: a delay-policy timer that misses no tick stays on its grid",
    )
    func delayWithoutMissesKeepsGrid() async throws {
        let scheduler = try KQueueLoop()
        defer { scheduler.shutdown() }
        let period: Int64 = 10_000_000
        let start = scheduler.now.nanoseconds
        let ticks = SchedulerLog<Tick>()
        let handle = scheduler.schedule(
            every: .nanoseconds(period),
            startingAt: KQueueClock.Instant(nanoseconds: start),
            missedTicks: .delay
        ) { tick in
            ticks.append(Tick(deadline: tick.deadline.nanoseconds, missed: tick.missed, now: KQueueClock().now.nanoseconds))
        }
        /// Consecutive ticks that both missed nothing: the grid must not have moved between them.
        func onTimePairs() -> [(Tick, Tick)] {
            let values = ticks.values
            return zip(values, values.dropFirst()).filter { $0.missed == 0 && $1.missed == 0 }
        }
        #expect(await schedulerEventually(timeout: .seconds(10)) { onTimePairs().count >= 10 })
        handle.cancel()
        let values = ticks.values
        if let first = values.first, first.missed == 0 {
            #expect(first.deadline == start + period)
        }
        for (previous, tick) in onTimePairs() {
            #expect(tick.deadline - previous.deadline == period, "the grid moved by \(tick.deadline - previous.deadline - period) ns without a missed tick")
        }
    }

    @Test("Real time: cancelling from inside the tick callback stops the ticks")
    func realTimeCancelFromCallback() async throws {
        let scheduler = try KQueueLoop()
        defer { scheduler.shutdown() }
        let ticks = SchedulerCounter()
        let handle = SchedulerBox<TimerHandle?>(nil)
        let results = SchedulerLog<Bool>()
        let periodic = scheduler.schedule(every: .milliseconds(5)) { _ in
            if ticks.increment() == 3, let own = handle.value {
                results.append(own.cancel())
            }
        }
        handle.withLock { $0 = periodic }
        #expect(await schedulerEventually { results.count == 1 })
        await schedulerPause(.milliseconds(60))
        #expect(ticks.count == 3)
        #expect(results.values == [true])
        #expect(scheduler.pendingCount == 0)
    }
}
