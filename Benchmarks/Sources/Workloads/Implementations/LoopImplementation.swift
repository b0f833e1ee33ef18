#if KQ_BENCH_PROJECT
import Dispatch
import KQueueTimers
import Synchronization

/// `loop`: the project's `KQueueLoop` driven from its own thread, as code running on the loop uses it.
/// Every schedule and cancel of a workload runs inside `loop.execute { ... }`: all N schedules in one
/// job, all cancels in one job, the workload's thread waiting for each job with a semaphore. On the
/// loop's thread, scheduling and cancelling touch the wheel directly (no lock, no message). Callbacks
/// run on the loop.
///
/// As with `nio` and `wheel`, nothing fires in `fire` before every timer is scheduled (the job that
/// schedules them holds the loop). Timers are the same as `scheduler`'s: churn's callback is a closure
/// without captures that bumps a global counter (a failed `cancel()` is reported to the sink, checked
/// against the counter); periodic = `schedule(every:startingAt:tolerance:missedTicks: .skip)` on the
/// grid `first − P + k·P`, a tick covering `tick.missed + 1` grid points.
///
/// hop: `loop.execute { ... }` from the workload's thread, i.e. through the loop's locked inbox.
/// sleepers: `Task(executorPreference: loop) { try await loop.sleep(until:) }`.
///
/// `LoopToleranceImplementation` (`loop-tol`) gives each periodic timer `tolerance: .milliseconds(1)`.
class LoopImplementation: TimerImplementation {
    class var name: String { "loop" }
    class var workloads: Set<WorkloadName> { [.churn, .fire, .precision, .fleet, .idle, .hop, .sleepers] }
    /// The tolerance given to each periodic timer; nil = the loop's default (100 µs).
    class var periodicTolerance: Duration? { nil }
    /// fleet's `tolerance_us`: the loop's default tolerance applies to timers given none.
    class var fleetToleranceMicroseconds: Int { 100 }

    /// What only the loop's thread touches.
    private final class LoopOwned: @unchecked Sendable {
        var oneShots: [TimerHandle] = []
        var periodics: [TimerHandle] = []
        /// churn: indices whose `cancel()` failed (their callback already ran).
        var notCancelled: [Int] = []
    }

    let loop: KQueueLoop
    private let owned = LoopOwned()
    private let jobDone = DispatchSemaphore(value: 0)
    /// churn: the sink told about timers that fired before `cancelOneShots` reached them.
    private var uncountedSink: FireSink?
    /// sleepers: the handles, each dropped when its task is cancelled so that it does not keep the
    /// ended task's memory.
    private var sleepers: [Task<Void, Never>?] = []

    required init() throws {
        loop = try KQueueLoop()
    }

    private static func instant(_ monotonicNanoseconds: Int64) -> KQueueClock.Instant {
        KQueueClock.Instant(nanoseconds: monotonicNanoseconds)
    }

    /// Runs `body` as one job on the loop's thread; returns when it has run.
    private func onLoop(_ body: @escaping @Sendable () -> Void) throws {
        guard loop.execute({ [jobDone] in
            body()
            jobDone.signal()
        })
        else { throw LoopImplementationError.loopStopped }
        jobDone.wait()
    }

    // MARK: One-shot

    func scheduleOneShots(sink: FireSink) throws {
        try onLoop { [loop, owned] in
            owned.oneShots.reserveCapacity(sink.count)
            for index in 0..<sink.count {
                owned.oneShots.append(loop.schedule(at: Self.instant(sink.deadlines[index])) { sink.fired(index) })
            }
        }
    }

    func scheduleCancellableOneShots(sink: FireSink) throws {
        uncountedSink = sink
        try onLoop { [loop, owned] in
            owned.oneShots.reserveCapacity(sink.count)
            for index in 0..<sink.count {
                owned.oneShots.append(
                    loop.schedule(at: Self.instant(sink.deadlines[index])) {
                        LoopChurnCounter.fired.add(1, ordering: .relaxed)
                    }
                )
            }
        }
    }

    func cancelOneShots(order: [Int]) throws {
        try onLoop { [owned] in
            for index in order where !owned.oneShots[index].cancel() {
                owned.notCancelled.append(index)
            }
            owned.oneShots = []
        }
        guard let sink = uncountedSink else { return }
        uncountedSink = nil
        // On the loop's thread a failed cancel() means the callback has already run: the counter is final.
        let fired = LoopChurnCounter.fired.load(ordering: .acquiring)
        guard fired == owned.notCancelled.count else {
            throw SchedulerImplementationError.cancelMismatch(callbacks: fired, failedCancels: owned.notCancelled.count)
        }
        for index in owned.notCancelled { sink.fired(index) }
        owned.notCancelled = []
    }

    func waitForFires(sink: FireSink, until deadline: Int64) {
        sink.waitForCompletion(until: deadline)
    }

    // MARK: Periodic

    func startPeriodic(firstDeadlines: [Int64], period: Int64, sink: TickSink) throws {
        let tolerance = Self.periodicTolerance
        try onLoop { [loop, owned] in
            owned.periodics.reserveCapacity(firstDeadlines.count)
            for (index, first) in firstDeadlines.enumerated() {
                // The first tick is one period after the grid's origin.
                let handle = loop.schedule(
                    every: .nanoseconds(period),
                    startingAt: Self.instant(first - period),
                    tolerance: tolerance,
                    missedTicks: .skip
                ) { tick in
                    sink.tick(index, expirations: tick.missed + 1)
                }
                owned.periodics.append(handle)
            }
        }
    }

    func waitForTicks(sink: TickSink, until deadline: Int64) {
        sink.waitForCompletion(until: deadline)
    }

    func stopPeriodic() throws {
        try onLoop { [owned] in
            for handle in owned.periodics { handle.cancel() }
            owned.periodics = []
        }
    }

    // MARK: Jobs (hop)

    /// `loop.execute` from the workload's thread: through the loop's locked inbox.
    func submitJobs(counter: JobCounter) {
        for _ in 0..<counter.target {
            loop.execute { counter.ran() }
        }
    }

    // MARK: Sleeping tasks (sleepers)

    /// `Task(executorPreference: loop)` sleeping with `loop.sleep(until:)`: the task runs on the loop's
    /// thread and sleeps on its wheel; created and cancelled from the workload's thread.
    func startSleepers(sink: SleeperSink) {
        sleepers = []
        sleepers.reserveCapacity(sink.count)
        for index in 0..<sink.count {
            let deadline = Self.instant(sink.deadlines[index])
            sleepers.append(
                Task(executorPreference: loop) { [loop] in
                    do {
                        try await loop.sleep(until: deadline)
                    } catch {
                        sink.cancelled(index)
                        return
                    }
                    sink.woke(index)
                }
            )
        }
    }

    func cancelSleeper(_ index: Int) {
        sleepers[index]?.cancel()
        sleepers[index] = nil
    }

    func shutdown() {
        sleepers = []
        loop.shutdown()
    }
}

/// `loop-tol`: `loop` with `tolerance: .milliseconds(1)` on each periodic timer (fleet only).
final class LoopToleranceImplementation: LoopImplementation {
    override class var name: String { "loop-tol" }
    override class var workloads: Set<WorkloadName> { [.fleet] }
    override class var periodicTolerance: Duration? { .milliseconds(1) }
    override class var fleetToleranceMicroseconds: Int { 1_000 }
}

/// The churn callback's counter: a global, so that the closure captures nothing.
private enum LoopChurnCounter {
    static let fired = Atomic<Int>(0)
}

enum LoopImplementationError: Error {
    case loopStopped
}
#endif
