import KQueue
import KQueueTimers
import Synchronization
import Testing

#if canImport(Glibc)
@preconcurrency import Glibc
#endif

/// An actor that runs on a loop.
private actor LoopActor {
    let loop: KQueueLoop
    private(set) var log: [Int] = []

    nonisolated var unownedExecutor: UnownedSerialExecutor {
        loop.asUnownedSerialExecutor()
    }

    init(loop: KQueueLoop) {
        self.loop = loop
    }

    func record(_ value: Int) -> Bool {
        log.append(value)
        return loop.isCurrent
    }

    /// Sleeps on the loop's own wheel, and says whether it stayed on the loop throughout.
    func sleepAndCheck() async throws -> Bool {
        let before = loop.isCurrent
        try await loop.sleep(for: .milliseconds(5))
        return before && loop.isCurrent
    }
}

@Suite("KQueueLoop as an executor")
struct KQueueLoopTests {
    #if os(Linux)
    @Test("The loop's thread is named KQueueLoop (what debuggers, top -H and crash reports show)")
    func threadName() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let name = await Task(executorPreference: loop) { () -> String in
            let fd = open("/proc/thread-self/comm", O_RDONLY)
            defer { close(fd) }
            var bytes = [UInt8](repeating: 0, count: 32)
            let count = read(fd, &bytes, bytes.count)
            return String(decoding: bytes[..<max(count, 0)], as: UTF8.self)
        }.value
        #expect(name == "KQueueLoop\n")
    }
    #endif

    @Test("A task that prefers the loop runs on its thread, before and after sleeping on it")
    func taskRunsOnLoop() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        #expect(!loop.isCurrent)
        let task = Task(executorPreference: loop) { () -> [Bool] in
            let first = loop.isCurrent
            try await loop.sleep(for: .milliseconds(5))
            let second = loop.isCurrent
            try await Task.sleep(for: .milliseconds(5), clock: KQueueClock(loop: loop))
            return [first, second, loop.isCurrent]
        }
        #expect(try await task.value == [true, true, true])
    }

    @Test("An actor whose executor is the loop runs on its thread, and checkIsolated agrees")
    func actorRunsOnLoop() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let actor = LoopActor(loop: loop)
        for value in 0..<100 {
            #expect(await actor.record(value))
        }
        #expect(await actor.log == Array(0..<100))
        #expect(try await actor.sleepAndCheck())
        // assumeIsolated calls checkIsolated on the loop's thread: it must not trap.
        let checked = SchedulerGate()
        loop.execute {
            actor.assumeIsolated { _ in checked.open() }
        }
        #expect(await checked.opened())
    }

    @Test("Jobs from 4 threads all run on the loop, in submission order per thread")
    func jobsInOrderPerThread() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let perThread = schedulerUnderThreadSanitizer ? 2_000 : 20_000
        let logs = (0..<4).map { _ in SchedulerLog<Int>() }
        let offLoop = SchedulerCounter()
        let threads = (0..<4).map { thread in
            SchedulerTestThread {
                for index in 0..<perThread {
                    loop.execute {
                        if !loop.isCurrent { offLoop.increment() }
                        logs[thread].append(index)
                    }
                }
            }
        }
        for thread in threads { #expect(await thread.join()) }
        #expect(await schedulerEventually { logs.allSatisfy { $0.count == perThread } })
        for log in logs { #expect(log.values == Array(0..<perThread)) }
        #expect(offLoop.count == 0)
    }

    @Test("A job submitted on the loop runs after the jobs already waiting")
    func jobsFromTheLoop() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let log = SchedulerLog<String>()
        let done = SchedulerGate()
        loop.execute {
            loop.execute { log.append("inner") }
            log.append("outer")
            loop.execute {
                log.append("last")
                done.open()
            }
        }
        #expect(await done.opened())
        #expect(log.values == ["outer", "inner", "last"])
    }

    @Test("Timers scheduled on and off the loop, with and without tolerance, fire in deadline order, never early")
    func timersOnAndOffTheLoop() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let fires = SchedulerLog<(deadline: Int64, at: Int64)>()
        let count = 2_000
        // Far enough ahead that every timer is on the wheel before the first is due, even on a
        // slow, loaded machine (checked below).
        let start = loop.now.advanced(by: .milliseconds(500))
        var random = SeededRandom(seed: 42)
        let deadlines = (0..<count).map { _ in start.advanced(by: .microseconds(Int64(random.next() % 50_000))) }
        let scheduled = SchedulerGate()
        let onLoop = Array(deadlines[..<(count / 2)])
        loop.execute {
            for (index, deadline) in onLoop.enumerated() {
                let tolerance: Duration? = index.isMultiple(of: 2) ? nil : .milliseconds(1)
                loop.schedule(at: deadline, tolerance: tolerance) {
                    fires.append((deadline.nanoseconds, KQueueClock().now.nanoseconds))
                }
            }
            scheduled.open()
        }
        for (index, deadline) in deadlines[(count / 2)...].enumerated() {
            let tolerance: Duration? = index.isMultiple(of: 3) ? .zero : nil
            loop.schedule(at: deadline, tolerance: tolerance) {
                fires.append((deadline.nanoseconds, KQueueClock().now.nanoseconds))
            }
        }
        #expect(await scheduled.opened())
        let allScheduled = loop.now
        #expect(await schedulerEventually { fires.count == count })
        let values = fires.values
        #expect(values.count == count)
        #expect(values.allSatisfy { $0.at >= $0.deadline }, "a timer fired early")
        // Order holds between timers whose runs could not share a wake-up: a timer with a
        // tolerance may run in the same turn as a later deadline, so compare at 2 ms apart.
        // (A timer that reached the wheel after its deadline runs at once, so order is only
        // promised when scheduling ended before the first deadline.)
        if allScheduled < start {
            for (earlier, later) in zip(values, values.dropFirst()) where later.deadline + 2_000_000 < earlier.deadline {
                Issue.record("deadline \(earlier.deadline) ran before \(later.deadline)")
            }
        }
    }

    @Test("A timer with a tolerance never runs before its deadline")
    func toleranceNeverEarly() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let fires = SchedulerLog<(deadline: Int64, at: Int64)>()
        for index in 0..<200 {
            let deadline = loop.now.advanced(by: .microseconds(500 * Int64(index) + 10_000))
            loop.schedule(at: deadline, tolerance: .milliseconds(5)) {
                fires.append((deadline.nanoseconds, KQueueClock().now.nanoseconds))
            }
        }
        #expect(await schedulerEventually { fires.count == 200 })
        #expect(fires.values.allSatisfy { $0.at >= $0.deadline }, "a timer fired early")
    }

    @Test("Cross-thread cancel races: a true cancel never fires, a false one fired exactly once", arguments: [true, false])
    func cancelRaces(scheduledOnLoop: Bool) async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let count = 2_000
        let fired = (0..<count).map { _ in SchedulerCounter() }
        let handles = SchedulerBox<[TimerHandle]>([])
        let base = loop.now.advanced(by: .milliseconds(20))
        let schedule: @Sendable () -> Void = {
            var made: [TimerHandle] = []
            made.reserveCapacity(count)
            for index in 0..<count {
                // Deadlines 5 µs apart: the loop fires them while the other thread cancels.
                let deadline = base.advanced(by: .microseconds(5 * Int64(index)))
                made.append(loop.schedule(at: deadline) { fired[index].increment() })
            }
            handles.withLock { $0 = made }
        }
        if scheduledOnLoop {
            let done = SchedulerGate()
            loop.execute {
                schedule()
                done.open()
            }
            #expect(await done.opened())
        } else {
            schedule()
        }
        // Wait until the first timers are due, then cancel in order, racing the fires.
        while loop.now < base.advanced(by: .milliseconds(3)) {}
        let results = handles.value.map { handle in
            // Slow enough that the fires catch up with the cancels.
            for _ in 0..<200 { _ = handle.isPending }
            return handle.cancel()
        }
        // Every timer has either been cancelled or fired once the last deadline passed.
        #expect(await schedulerEventually { loop.pendingCount == 0 })
        let drained = SchedulerGate()
        loop.execute { drained.open() }
        #expect(await drained.opened())
        var trueThenFired = 0
        var falseNotOnce = 0
        for index in 0..<count {
            let fires = fired[index].count
            if results[index] && fires != 0 { trueThenFired += 1 }
            if !results[index] && fires != 1 { falseNotOnce += 1 }
        }
        #expect(trueThenFired == 0, "a cancel returned true and the callback ran")
        #expect(falseNotOnce == 0, "a cancel returned false but the callback did not run exactly once")
        #expect(handles.value.allSatisfy { !$0.isPending })
    }

    @Test("A cancel on the loop of a timer due in the same turn: true means it never runs")
    func cancelFromCallback() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let log = SchedulerLog<String>()
        let deadline = loop.now.advanced(by: .milliseconds(5))
        let second = SchedulerBox<TimerHandle?>(nil)
        let results = SchedulerLog<Bool>()
        let done = SchedulerGate()
        loop.execute {
            loop.schedule(at: deadline) {
                log.append("first")
                results.append(second.value!.cancel())
            }
            second.withLock { $0 = loop.schedule(at: deadline) { log.append("second") } }
            loop.schedule(at: deadline.advanced(by: .milliseconds(1))) { done.open() }
        }
        #expect(await done.opened())
        // Taken in the same turn: the cancel finds the fire begun and returns false.
        #expect(results.values == [false] && log.values == ["first", "second"])
    }

    @Test("pendingCount counts timers and sleeping tasks, from the loop and from other threads")
    func pendingCount() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let handles = (0..<10).map { _ in loop.schedule(after: .seconds(60)) {} }
        #expect(loop.pendingCount == 10)
        let onLoop = SchedulerBox(-1)
        let done = SchedulerGate()
        loop.execute {
            onLoop.withLock { $0 = loop.pendingCount }
            done.open()
        }
        #expect(await done.opened())
        #expect(onLoop.value == 10)
        for handle in handles { #expect(handle.cancel()) }
        #expect(loop.pendingCount == 0)
    }

    @Test("Shutdown with jobs, tasks and timers pending: timers never run, sleepers get CancellationError, later jobs are refused")
    func shutdownWithWorkPending() async throws {
        let loop = try KQueueLoop()
        let ran = SchedulerCounter()
        let timers = (0..<100).map { _ in loop.schedule(after: .seconds(60)) { ran.increment() } }
        let periodic = loop.schedule(every: .seconds(30)) { _ in ran.increment() }
        let sleeper = Task(executorPreference: loop) { () -> String in
            do {
                try await loop.sleep(for: .seconds(60))
                return "woke"
            } catch is CancellationError {
                return "cancelled"
            }
        }
        #expect(await schedulerEventually { loop.pendingCount == 102 })
        loop.shutdown()
        #expect(try await sleeper.value == "cancelled")
        #expect(ran.count == 0)
        #expect(timers.allSatisfy { !$0.isPending && !$0.cancel() })
        #expect(!periodic.isPending)
        #expect(!loop.execute {})
        #expect(loop.pendingCount == 0)
        // Scheduling on a stopped loop fires nothing and a sleep ends at once.
        let late = loop.schedule(after: .zero) { ran.increment() }
        #expect(!late.isPending)
        await #expect(throws: CancellationError.self) { try await loop.sleep(for: .seconds(1)) }
        loop.shutdown()
    }

    @Test("A callback that calls shutdown(): no timer due in the same turn starts after it")
    func shutdownFromCallback() async throws {
        let loop = try KQueueLoop()
        let log = SchedulerLog<String>()
        let deadline = loop.now.advanced(by: .milliseconds(5))
        loop.schedule(at: deadline) {
            log.append("first")
            loop.shutdown()
        }
        loop.schedule(at: deadline) { log.append("second") }
        #expect(await schedulerEventually { !loop.execute {} })
        loop.shutdown()
        #expect(log.values == ["first"])
    }

    @Test("A spinning loop notices an earlier timer and a shutdown")
    func spinLooksUp() async throws {
        // The loop spins for up to 120 s before a timer due in 60 s.
        let loop = try KQueueLoop(spin: .seconds(120))
        let late = SchedulerCounter()
        loop.schedule(after: .seconds(60)) { late.increment() }
        await schedulerPause(.milliseconds(20))
        let early = SchedulerGate()
        loop.schedule(after: .milliseconds(10)) { early.open() }
        #expect(await early.opened(timeout: .seconds(30)), "a timer added during the spin did not run before the spin ended")
        let stopper = SchedulerTestThread { loop.shutdown() }
        #expect(await stopper.join(timeout: .seconds(30)), "shutdown waited for the spin")
        #expect(late.count == 0)
    }

    @Test("shutdown() from a job on the loop ends the loop; the shared loop exists")
    func shutdownFromLoop() async throws {
        let loop = try KQueueLoop()
        loop.execute { loop.shutdown() }
        #expect(await schedulerEventually { !loop.execute {} })
        #expect(!KQueueLoop.shared.isCurrent)
        #expect(KQueueClock().loop === KQueueLoop.shared)
    }
}

@Suite("KQueueLoop shutdown from a callback")
struct KQueueLoopShutdownTests {
    @Test("A task sleeping until the instant of a callback that shuts the loop down gets CancellationError")
    func sleeperInTheSameTurn() async throws {
        let loop = try KQueueLoop()
        let deadline = loop.now.advanced(by: .milliseconds(20))
        loop.schedule(at: deadline) { loop.shutdown() }
        let sleeper = Task(executorPreference: loop) { () -> String in
            do {
                try await loop.sleep(until: deadline)
                return "woke"
            } catch {
                return "cancelled"
            }
        }
        // Either the sleep was taken after the callback (cancelled) or it ran first (woke);
        // it never hangs.
        let outcome = try await withTimeout(.seconds(60), on: KQueueLoop.shared) { await sleeper.value }
        #expect(outcome == "cancelled" || outcome == "woke")
        loop.shutdown()
    }
}
