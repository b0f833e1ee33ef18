import KQueueTimers
import Testing

/// Behaviour of ``KQueueLoop`` in real time. Assertions are about behaviour: a timer never
/// fires before its deadline (strict), lateness only within a generous bound, since the
/// machine is shared and noisy.
@Suite("KQueueLoop")
struct KQueueLoopTimerTests {
    /// Lateness tolerated before calling a timer lost (not a performance target).
    static let lateness: Int64 = 10_000_000_000

    // MARK: - One-shot timers

    @Test("A one-shot timer fires exactly once, never before its deadline")
    func oneShotFiresOnceNotEarly() async throws {
        let scheduler = try KQueueLoop()
        defer { scheduler.shutdown() }
        let fired = SchedulerLog<Int64>()
        let deadline = scheduler.now.advanced(by: .milliseconds(100))
        let handle = scheduler.schedule(at: deadline) { fired.append(KQueueClock().now.nanoseconds) }
        #expect(handle.isPending)
        #expect(scheduler.pendingCount == 1)

        #expect(await schedulerEventually { fired.count >= 1 })
        await schedulerPause(.milliseconds(100))
        let times = fired.values
        #expect(times.count == 1)
        if let time = times.first {
            #expect(time >= deadline.nanoseconds, "fired \(deadline.nanoseconds - time) ns early")
            #expect(time - deadline.nanoseconds < Self.lateness)
        }
        #expect(!handle.isPending)
        #expect(scheduler.pendingCount == 0)
    }

    @Test("schedule(after:) never fires before the delay and a past deadline fires promptly")
    func afterDelayAndPastDeadline() async throws {
        let scheduler = try KQueueLoop()
        defer { scheduler.shutdown() }
        let afterFired = SchedulerLog<Int64>()
        let start = scheduler.now
        scheduler.schedule(after: .milliseconds(20)) { afterFired.append(KQueueClock().now.nanoseconds) }
        let pastFired = SchedulerLog<Int64>()
        let past = scheduler.now.advanced(by: .seconds(-1))
        scheduler.schedule(at: past) { pastFired.append(KQueueClock().now.nanoseconds) }

        #expect(await schedulerEventually { afterFired.count == 1 && pastFired.count == 1 })
        await schedulerPause(.milliseconds(50))
        #expect(afterFired.count == 1)
        #expect(pastFired.count == 1)
        if let time = afterFired.values.first {
            #expect(time - start.nanoseconds >= 20_000_000)
        }
        if let time = pastFired.values.first {
            #expect(time - start.nanoseconds < Self.lateness)
        }
    }

    @Test("10,000 timers with random deadlines fire exactly once each, in deadline order, equal deadlines first-in first-out")
    func manyTimersFireInOrder() async throws {
        let scheduler = try KQueueLoop()
        defer { scheduler.shutdown() }
        let count = 10_000
        // Hold the scheduler's thread while the timers are scheduled, so that the order of
        // the fires does not depend on how long scheduling takes.
        let gate = SchedulerGate()
        let held = SchedulerCounter()
        scheduler.schedule(at: scheduler.now) {
            held.increment()
            gate.wait()
        }
        #expect(await schedulerEventually { held.count == 1 })

        let fires = SchedulerLog<(index: Int, at: Int64)>()
        let base = scheduler.now.advanced(by: .milliseconds(20))
        var deadlines: [Int64] = []
        deadlines.reserveCapacity(count)
        for index in 0..<count {
            // Whole milliseconds within 300 ms: many equal deadlines, to check FIFO.
            let deadline = base.advanced(by: .milliseconds(Int.random(in: 0..<300)))
            deadlines.append(deadline.nanoseconds)
            scheduler.schedule(at: deadline) { fires.append((index, KQueueClock().now.nanoseconds)) }
        }
        // Asked on the loop, after the timers' jobs and before any of them can fire (asking
        // from here would wait for the held loop).
        let pending = SchedulerLog<Int>()
        #expect(scheduler.execute { pending.append(scheduler.pendingCount) })
        let released = scheduler.now.nanoseconds
        gate.open()

        #expect(await schedulerEventually(timeout: .seconds(30)) { fires.count >= count })
        await schedulerPause(.milliseconds(50))
        let log = fires.values
        #expect(pending.values == [count])
        #expect(log.count == count)
        #expect(Set(log.map(\.index)).count == count, "some timer fired twice")
        let expected = (0..<count).sorted { (deadlines[$0], $0) < (deadlines[$1], $1) }
        let order = log.map(\.index)
        if order != expected {
            let first = zip(order, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(order.count, expected.count)
            Issue.record("fire order differs from (deadline, scheduling order) at position \(first)")
        }
        let early = log.filter { $0.at < deadlines[$0.index] }
        #expect(early.isEmpty, "\(early.count) timers fired before their deadline")
        let late = log.filter { $0.at - max(deadlines[$0.index], released) > Self.lateness }
        #expect(late.isEmpty, "\(late.count) timers fired more than 500 ms late")
        #expect(scheduler.pendingCount == 0)
    }

    @Test("Callbacks run serially, all on the scheduler's one thread")
    func callbacksAreSerial() async throws {
        let scheduler = try KQueueLoop()
        defer { scheduler.shutdown() }
        let threads = SchedulerLog<Int32>()
        let running = SchedulerCounter()
        let overlaps = SchedulerCounter()
        let done = SchedulerCounter()
        let start = scheduler.now
        for index in 0..<200 {
            scheduler.schedule(at: start.advanced(by: .microseconds(100 * (index % 20)))) {
                if running.increment() != 1 { overlaps.increment() }
                threads.append(schedulerThreadID())
                running.decrement()
                done.increment()
            }
        }
        #expect(await schedulerEventually { done.count == 200 })
        #expect(overlaps.count == 0)
        #expect(Set(threads.values).count == 1)
        #expect(!threads.values.contains(schedulerThreadID()))
    }

    @Test("Callbacks can schedule, cancel and reschedule timers on their own scheduler")
    func reentrantCallbacks() async throws {
        let scheduler = try KQueueLoop()
        defer { scheduler.shutdown() }
        // A chain of 100 timers, each scheduled by the previous callback.
        let chain = SchedulerLog<(deadline: Int64, at: Int64)>()
        @Sendable func link(_ remaining: Int) {
            let deadline = scheduler.now.advanced(by: .microseconds(200))
            scheduler.schedule(at: deadline) {
                chain.append((deadline.nanoseconds, KQueueClock().now.nanoseconds))
                if remaining > 1 { link(remaining - 1) }
            }
        }
        link(100)
        let victimFired = SchedulerCounter()
        // Far enough that the canceller at +5 ms always comes first, even under a sanitizer.
        let victim = scheduler.schedule(after: .seconds(30)) { victimFired.increment() }
        let movedFired = SchedulerLog<Int64>()
        let moved = scheduler.schedule(after: .seconds(60)) { movedFired.append(KQueueClock().now.nanoseconds) }
        let results = SchedulerLog<Bool>()
        let movedTo = SchedulerBox<Int64>(0)
        scheduler.schedule(after: .milliseconds(5)) {
            results.append(victim.cancel())
            let deadline = scheduler.now.advanced(by: .milliseconds(10))
            movedTo.withLock { $0 = deadline.nanoseconds }
            results.append(scheduler.reschedule(moved, to: deadline))
        }
        #expect(await schedulerEventually { chain.count == 100 && movedFired.count == 1 })
        #expect(results.values == [true, true])
        #expect(chain.values.allSatisfy { $0.at >= $0.deadline })
        if let time = movedFired.values.first {
            #expect(time >= movedTo.value && time - movedTo.value < Self.lateness)
        }
        await schedulerPause(.milliseconds(60))
        #expect(victimFired.count == 0)
        #expect(scheduler.pendingCount == 0)
    }

    @Test("A scheduler with a spin window fires timers and ticks in order, never early")
    func spinScheduler() async throws {
        let scheduler = try KQueueLoop(spin: .microseconds(200))
        defer { scheduler.shutdown() }
        let fires = SchedulerLog<(deadline: Int64, at: Int64)>()
        let start = scheduler.now
        for index in 0..<50 {
            let deadline = start.advanced(by: .microseconds(500 * index + 137))
            scheduler.schedule(at: deadline) { fires.append((deadline.nanoseconds, KQueueClock().now.nanoseconds)) }
        }
        let ticks = SchedulerLog<(deadline: Int64, at: Int64)>()
        let periodic = scheduler.schedule(every: .milliseconds(3)) { tick in
            ticks.append((tick.deadline.nanoseconds, KQueueClock().now.nanoseconds))
        }
        #expect(await schedulerEventually { fires.count == 50 && ticks.count >= 5 })
        periodic.cancel()
        #expect(fires.values.map(\.deadline) == fires.values.map(\.deadline).sorted())
        #expect(fires.values.allSatisfy { $0.at >= $0.deadline && $0.at - $0.deadline < Self.lateness })
        #expect(ticks.values.allSatisfy { $0.at >= $0.deadline })
    }

    @Test(
        "Dense timers sharing wake-ups within a tolerance all fire, in deadline order, never early",
        arguments: [Duration.zero, .milliseconds(2)]
    )
    func coalescedWakeUps(tolerance: Duration) async throws {
        let scheduler = try KQueueLoop(tolerance: tolerance)
        defer { scheduler.shutdown() }
        let fires = SchedulerLog<(deadline: Int64, at: Int64)>()
        let start = scheduler.now.advanced(by: .milliseconds(20))
        // 2,000 deadlines 10 µs apart: 20 ms of timers far denser than the coalescing interval.
        for index in 0..<2_000 {
            let deadline = start.advanced(by: .microseconds(10 * index))
            scheduler.schedule(at: deadline) { fires.append((deadline.nanoseconds, KQueueClock().now.nanoseconds)) }
        }
        #expect(await schedulerEventually { fires.count == 2_000 })
        let values = fires.values
        #expect(values.map(\.deadline) == values.map(\.deadline).sorted())
        #expect(values.allSatisfy { $0.at >= $0.deadline }, "a timer fired early")
    }

    // MARK: - Cancel

    @Test("Cancelling before the fire returns true and the callback never runs")
    func cancelBeforeFire() async throws {
        let scheduler = try KQueueLoop()
        defer { scheduler.shutdown() }
        let fired = SchedulerCounter()
        let handle = scheduler.schedule(after: .milliseconds(300)) { fired.increment() }
        let other = SchedulerCounter()
        scheduler.schedule(after: .milliseconds(300)) { other.increment() }
        #expect(handle.cancel())
        #expect(!handle.isPending)
        #expect(scheduler.pendingCount == 1)
        #expect(await schedulerEventually { other.count == 1 })
        await schedulerPause(.milliseconds(50))
        #expect(fired.count == 0)
        #expect(!handle.cancel(), "a second cancel must report that it prevented nothing")
    }

    @Test("Cancelling after the fire returns false; a double cancel returns true only once")
    func cancelAfterFireAndTwice() async throws {
        let scheduler = try KQueueLoop()
        defer { scheduler.shutdown() }
        let fired = SchedulerCounter()
        let handle = scheduler.schedule(after: .milliseconds(5)) { fired.increment() }
        #expect(await schedulerEventually { fired.count == 1 })
        #expect(!handle.isPending)
        #expect(!handle.cancel())
        #expect(!handle.cancel())

        let twice = scheduler.schedule(after: .seconds(60)) { fired.increment() }
        #expect(twice.cancel())
        #expect(!twice.cancel())
        #expect(scheduler.pendingCount == 0)
        #expect(fired.count == 1)
    }

    @Test("A stale handle never cancels, moves or reveals a later timer that reuses its slot")
    func staleHandle() async throws {
        let scheduler = try KQueueLoop()
        defer { scheduler.shutdown() }
        // Cancelled, then a new timer takes the freed entry.
        let stale = scheduler.schedule(after: .seconds(60)) {}
        #expect(stale.cancel())
        let fired = SchedulerCounter()
        let fresh = scheduler.schedule(after: .milliseconds(300)) { fired.increment() }
        #expect(!stale.isPending)
        #expect(fresh.isPending)
        #expect(!stale.cancel())
        #expect(!scheduler.reschedule(stale, after: .seconds(60)))
        #expect(fresh.isPending)
        #expect(await schedulerEventually { fired.count == 1 })

        // Fired, then a new timer takes the freed entry.
        let later = SchedulerCounter()
        let next = scheduler.schedule(after: .milliseconds(300)) { later.increment() }
        #expect(!fresh.cancel())
        #expect(!scheduler.reschedule(fresh, after: .seconds(60)))
        #expect(next.isPending)
        #expect(await schedulerEventually { later.count == 1 })
        #expect(fired.count == 1)
    }

    // MARK: - Reschedule

    @Test("Reschedule moves a pending timer later and earlier, and returns false once it fired")
    func reschedule() async throws {
        let scheduler = try KQueueLoop()
        defer { scheduler.shutdown() }
        let laterFired = SchedulerLog<Int64>()
        let later = scheduler.schedule(after: .milliseconds(200)) { laterFired.append(KQueueClock().now.nanoseconds) }
        let laterDeadline = scheduler.now.advanced(by: .milliseconds(400))
        #expect(scheduler.reschedule(later, to: laterDeadline))

        let earlierFired = SchedulerLog<Int64>()
        let earlier = scheduler.schedule(after: .seconds(60)) { earlierFired.append(KQueueClock().now.nanoseconds) }
        #expect(scheduler.pendingCount == 2)
        await schedulerPause(.milliseconds(10))  // the thread now sleeps towards the earliest deadline
        let earlierDeadline = scheduler.now.advanced(by: .milliseconds(20))
        #expect(scheduler.reschedule(earlier, to: earlierDeadline))

        #expect(await schedulerEventually { laterFired.count == 1 && earlierFired.count == 1 })
        if let time = laterFired.values.first {
            #expect(time >= laterDeadline.nanoseconds, "fired at its old deadline")
            #expect(time - laterDeadline.nanoseconds < Self.lateness)
        }
        if let time = earlierFired.values.first {
            #expect(time >= earlierDeadline.nanoseconds)
            #expect(time - earlierDeadline.nanoseconds < Self.lateness, "the moved-up timer waited for its old deadline")
        }
        await schedulerPause(.milliseconds(30))
        #expect(laterFired.count == 1)
        #expect(earlierFired.count == 1)
        #expect(!scheduler.reschedule(later, after: .milliseconds(10)))
        #expect(!scheduler.reschedule(earlier, after: .milliseconds(10)))
        #expect(scheduler.pendingCount == 0)
        await schedulerPause(.milliseconds(30))
        #expect(laterFired.count == 1 && earlierFired.count == 1)
    }

    // MARK: - Cross-thread

    @Test("An earlier timer scheduled from another thread while the scheduler sleeps on a far deadline fires on time")
    func wakeUpForEarlierTimer() async throws {
        let scheduler = try KQueueLoop()
        defer { scheduler.shutdown() }
        let far = SchedulerCounter()
        let farHandle = scheduler.schedule(after: .seconds(3600)) { far.increment() }
        await schedulerPause(.milliseconds(30))  // the scheduler's thread sleeps towards +10 s

        let fired = SchedulerLog<Int64>()
        let deadline = SchedulerBox<Int64>(0)
        let thread = SchedulerTestThread {
            let near = scheduler.now.advanced(by: .milliseconds(20))
            deadline.withLock { $0 = near.nanoseconds }
            scheduler.schedule(at: near) { fired.append(KQueueClock().now.nanoseconds) }
        }
        #expect(await thread.join())
        #expect(await schedulerEventually(timeout: .seconds(5)) { fired.count == 1 })
        let due = deadline.withLock { $0 }
        if let time = fired.values.first {
            #expect(time >= due)
            #expect(time - due < Self.lateness, "the scheduler slept on towards its far deadline")
        }
        #expect(far.count == 0)
        #expect(farHandle.cancel())
    }

    @Test("Concurrent schedule and cancel from 4 threads: cancel true means never fired, false means fired exactly once")
    func concurrentScheduleAndCancel() async throws {
        let scheduler = try KQueueLoop()
        defer { scheduler.shutdown() }
        let threadCount = 4
        let operations = schedulerUnderThreadSanitizer ? 2_500 : 20_000
        let total = threadCount * operations
        let fireCounts = SchedulerBox([UInt8](repeating: 0, count: total))
        let fired = SchedulerCounter()
        /// Per timer: how many cancel calls returned true, and whether any cancel was tried.
        let outcomes = SchedulerBox([(trues: Int, tried: Bool)](repeating: (0, false), count: total))

        let threads = (0..<threadCount).map { thread in
            SchedulerTestThread {
                var handles: [TimerHandle] = []
                handles.reserveCapacity(operations)
                var local = [(trues: Int, tried: Bool)](repeating: (0, false), count: operations)
                for step in 0..<operations {
                    let id = thread * operations + step
                    let delay = Duration.microseconds(Int.random(in: 0...3_000))
                    handles.append(
                        scheduler.schedule(after: delay) {
                            fireCounts.withLock { $0[id] &+= 1 }
                            fired.increment()
                        }
                    )
                    // Cancel about half of the timers: the new one, or an older one that may
                    // have fired or been cancelled already (double cancel).
                    if Bool.random() {
                        let victim = Bool.random() ? step : Int.random(in: 0...step)
                        let result = handles[victim].cancel()
                        local[victim].tried = true
                        if result { local[victim].trues += 1 }
                    }
                }
                let offset = thread * operations
                outcomes.withLock { all in
                    for step in 0..<operations { all[offset + step] = local[step] }
                }
            }
        }
        for thread in threads {
            #expect(await thread.join())
        }
        let cancelled = outcomes.withLock { $0.filter { $0.trues > 0 }.count }
        let expectedFires = total - cancelled
        #expect(await schedulerEventually(timeout: .seconds(30)) {
            scheduler.pendingCount == 0 && fired.count >= expectedFires
        })
        await schedulerPause(.milliseconds(50))
        #expect(scheduler.pendingCount == 0)
        #expect(fired.count == expectedFires)

        let counts = fireCounts.withLock { $0 }
        let results = outcomes.withLock { $0 }
        var doubleTrue = 0
        var firedAfterTrue = 0
        var wrongFireCount = 0
        for id in 0..<total {
            if results[id].trues > 1 { doubleTrue += 1 }
            if results[id].trues > 0 {
                if counts[id] != 0 { firedAfterTrue += 1 }
            } else if counts[id] != 1 {
                wrongFireCount += 1
            }
        }
        #expect(doubleTrue == 0, "cancel returned true twice for \(doubleTrue) timers")
        #expect(firedAfterTrue == 0, "\(firedAfterTrue) timers fired although cancel returned true")
        #expect(wrongFireCount == 0, "\(wrongFireCount) uncancelled timers did not fire exactly once")
        #expect(cancelled > 0 && cancelled < total)
    }

    @Test("pendingCount counts pending timers and returns to zero")
    func pendingCount() async throws {
        let scheduler = try KQueueLoop()
        defer { scheduler.shutdown() }
        #expect(scheduler.pendingCount == 0)
        let far = (0..<100).map { _ in scheduler.schedule(after: .seconds(60)) {} }
        let fired = SchedulerCounter()
        for _ in 0..<50 { scheduler.schedule(after: .milliseconds(300)) { fired.increment() } }
        let periodic = scheduler.schedule(every: .seconds(60)) { _ in }
        #expect(scheduler.pendingCount == 151)
        #expect(await schedulerEventually { fired.count == 50 })
        #expect(scheduler.pendingCount == 101)
        for handle in far { #expect(handle.cancel()) }
        #expect(periodic.cancel())
        #expect(scheduler.pendingCount == 0)
    }

    // MARK: - Shutdown

    @Test("Shutdown cancels pending timers, periodic timers and sleeps")
    func shutdownCancelsEverything() async throws {
        let scheduler = try KQueueLoop()
        let fired = SchedulerCounter()
        let oneShot = scheduler.schedule(after: .seconds(3600)) { fired.increment() }
        let ticks = SchedulerCounter()
        let periodic = scheduler.schedule(every: .milliseconds(40)) { _ in ticks.increment() }
        let sleeper = Task { try await scheduler.sleep(for: .seconds(60)) }
        #expect(await schedulerEventually { scheduler.pendingCount == 3 })

        scheduler.shutdown()
        let ticksAtShutdown = ticks.count
        #expect(!oneShot.isPending)
        #expect(!periodic.isPending)
        #expect(scheduler.pendingCount == 0)
        #expect(!oneShot.cancel())
        #expect(!periodic.cancel())
        let result = await sleeper.result
        #expect(throws: CancellationError.self) { try result.get() }
        await schedulerPause(.milliseconds(150))
        #expect(fired.count == 0)
        #expect(ticks.count == ticksAtShutdown)
    }

    @Test("After shutdown, scheduling returns a handle that is not pending and never fires")
    func scheduleAfterShutdown() async throws {
        let scheduler = try KQueueLoop()
        scheduler.shutdown()
        let fired = SchedulerCounter()
        let now = scheduler.schedule(at: scheduler.now) { fired.increment() }
        let later = scheduler.schedule(after: .milliseconds(1)) { fired.increment() }
        let periodic = scheduler.schedule(every: .milliseconds(1)) { _ in fired.increment() }
        for handle in [now, later, periodic] {
            #expect(!handle.isPending)
            #expect(!handle.cancel())
        }
        #expect(!scheduler.reschedule(later, after: .milliseconds(1)))
        #expect(scheduler.pendingCount == 0)
        await #expect(throws: CancellationError.self) { try await scheduler.sleep(for: .milliseconds(1)) }
        var iterator = scheduler.ticks(every: .milliseconds(1)).makeAsyncIterator()
        #expect(await iterator.next() == nil)
        await schedulerPause(.milliseconds(50))
        #expect(fired.count == 0)
    }

    @Test("Shutdown twice, and from two threads at once, is harmless")
    func shutdownTwice() async throws {
        let scheduler = try KQueueLoop()
        scheduler.shutdown()
        scheduler.shutdown()

        let other = try KQueueLoop()
        let fired = SchedulerCounter()
        other.schedule(after: .seconds(3600)) { fired.increment() }
        let threads = (0..<2).map { _ in SchedulerTestThread { other.shutdown() } }
        other.shutdown()
        for thread in threads { #expect(await thread.join()) }
        await schedulerPause(.milliseconds(60))
        #expect(fired.count == 0)
        #expect(other.pendingCount == 0)
    }

    @Test("Shutdown from inside a callback stops the scheduler: later timers never fire, sleeps end, the thread exits")
    func shutdownFromCallback() async throws {
        let scheduler = try KQueueLoop()
        let later = SchedulerCounter()
        scheduler.schedule(after: .seconds(3600)) { later.increment() }
        let sleeper = Task { try await scheduler.sleep(for: .seconds(60)) }
        #expect(await schedulerEventually { scheduler.pendingCount == 2 })

        let returned = SchedulerCounter()
        let thread = SchedulerBox<Int32>(0)
        scheduler.schedule(after: .milliseconds(5)) {
            thread.withLock { $0 = schedulerThreadID() }
            scheduler.shutdown()
            returned.increment()
        }
        #expect(await schedulerEventually { returned.count == 1 }, "shutdown from a callback did not return")
        let result = await sleeper.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(scheduler.pendingCount == 0)
        let tid = thread.withLock { $0 }
        #expect(await schedulerEventually(timeout: .seconds(5)) { !schedulerThreadExists(tid) })
        scheduler.shutdown()
        await schedulerPause(.milliseconds(150))
        #expect(later.count == 0)
        let after = scheduler.schedule(at: scheduler.now) { later.increment() }
        #expect(!after.isPending)
    }

    @Test("After shutdown and release the scheduler is freed and its thread has exited")
    func shutdownAndRelease() async throws {
        weak var weakScheduler: KQueueLoop?
        let thread = SchedulerBox<Int32>(0)
        let handle: TimerHandle
        do {
            let scheduler = try KQueueLoop()
            weakScheduler = scheduler
            let ran = SchedulerCounter()
            scheduler.schedule(at: scheduler.now) {
                thread.withLock { $0 = schedulerThreadID() }
                ran.increment()
            }
            #expect(await schedulerEventually { ran.count == 1 })
            handle = scheduler.schedule(after: .seconds(60)) {}
            scheduler.shutdown()
            // shutdown joins the thread. The kernel wakes the joiner while the thread is still
            // leaving, so its /proc entry may outlive the join by a moment.
            let tid = thread.withLock { $0 }
            #expect(await schedulerEventually(timeout: .seconds(30)) { !schedulerThreadExists(tid) })
        }
        #expect(weakScheduler == nil, "something still holds the scheduler after shutdown")
        #expect(!handle.isPending)
        #expect(!handle.cancel())
    }

    @Test("Releasing the last reference without shutdown stops the scheduler: its timers never fire")
    func releaseWithoutShutdown() async throws {
        weak var weakScheduler: KQueueLoop?
        let fired = SchedulerCounter()
        let thread = SchedulerBox<Int32>(0)
        do {
            let scheduler = try KQueueLoop()
            weakScheduler = scheduler
            scheduler.schedule(at: scheduler.now) { thread.withLock { $0 = schedulerThreadID() } }
            #expect(await schedulerEventually { thread.withLock { $0 } != 0 })
            scheduler.schedule(after: .milliseconds(50)) { fired.increment() }
        }
        #expect(weakScheduler == nil)
        let tid = thread.withLock { $0 }
        #expect(await schedulerEventually(timeout: .seconds(5)) { !schedulerThreadExists(tid) })
        await schedulerPause(.milliseconds(100))
        #expect(fired.count == 0)
    }
}
