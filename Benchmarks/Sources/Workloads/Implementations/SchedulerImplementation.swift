#if KQ_BENCH_PROJECT
import Dispatch
import KQueueTimers
import Synchronization

/// `scheduler`: the project's `KQueueLoop` driven from another thread: every schedule and cancel here
/// comes from the workload's thread (through the loop's inbox), callbacks run serially on the loop's
/// thread. `LoopImplementation` (`loop`) is the same loop driven from its own thread.
///
/// `KQueueClock` is `CLOCK_MONOTONIC` on Linux, the runner's clock: deadlines pass through unchanged.
/// One-shots are `schedule(at:)` and `TimerHandle.cancel()`. In `churn` (see
/// `scheduleCancellableOneShots`) the callback is a closure without captures that bumps a global
/// counter, so the figures are the scheduler's own (no closure context per timer); a timer that fires
/// anyway shows as a failed `cancel()` and is reported to the sink then. Periodic timers are
/// `schedule(every:startingAt:missedTicks: .skip)` on the grid `first − P + k·P`; a tick reports
/// `tick.missed + 1` expirations, so `missed` is the sum of `tick.missed`.
///
/// `SpinningSchedulerImplementation` (`scheduler-spin`) is the same with `KQueueLoop(spin:)`.
class SchedulerImplementation: TimerImplementation {
    class var name: String { "scheduler" }
    class var workloads: Set<WorkloadName> { [.churn, .fire, .precision, .fleet, .idle] }
    /// `KQueueLoop(spin:)`: zero sleeps in the kernel until each deadline.
    class var spin: Duration { .zero }
    /// fleet's `tolerance_us`: the loop's default tolerance (100 µs) applies to timers given none.
    class var fleetToleranceMicroseconds: Int { 100 }

    private let scheduler: KQueueLoop
    private var oneShots: [TimerHandle] = []
    private var periodics: [TimerHandle] = []
    /// churn: the sink told about timers that fired before `cancelOneShots` reached them.
    private var uncountedSink: FireSink?

    required init() throws {
        scheduler = try KQueueLoop(spin: Self.spin)
    }

    private static func instant(_ monotonicNanoseconds: Int64) -> KQueueClock.Instant {
        KQueueClock.Instant(nanoseconds: monotonicNanoseconds)
    }

    // MARK: One-shot

    func scheduleOneShots(sink: FireSink) {
        oneShots.reserveCapacity(sink.count)
        for index in 0..<sink.count {
            oneShots.append(scheduler.schedule(at: Self.instant(sink.deadlines[index])) { sink.fired(index) })
        }
    }

    func scheduleCancellableOneShots(sink: FireSink) {
        uncountedSink = sink
        oneShots.reserveCapacity(sink.count)
        for index in 0..<sink.count {
            oneShots.append(
                scheduler.schedule(at: Self.instant(sink.deadlines[index])) {
                    ChurnCounter.fired.add(1, ordering: .relaxed)
                }
            )
        }
    }

    func cancelOneShots(order: [Int]) throws {
        var notCancelled: [Int] = []
        for index in order where !oneShots[index].cancel() {
            notCancelled.append(index)
        }
        oneShots = []
        guard let sink = uncountedSink else { return }
        uncountedSink = nil
        guard !notCancelled.isEmpty || ChurnCounter.fired.load(ordering: .relaxed) != 0 else { return }
        // Some timers fired (or are firing): let the callbacks already collected finish, then check that
        // exactly the timers whose cancel() failed ran, and tell the sink, which flags those whose
        // deadline is still ahead as early (it cannot see how early: the callback does not know its timer).
        waitForCallbacksInFlight()
        let fired = ChurnCounter.fired.load(ordering: .acquiring)
        guard fired == notCancelled.count else {
            throw SchedulerImplementationError.cancelMismatch(callbacks: fired, failedCancels: notCancelled.count)
        }
        for index in notCancelled { sink.fired(index) }
    }

    func waitForFires(sink: FireSink, until deadline: Int64) {
        sink.waitForCompletion(until: deadline)
    }

    /// Callbacks run serially in deadline order: a timer due now runs after every callback already due.
    private func waitForCallbacksInFlight() {
        let done = DispatchSemaphore(value: 0)
        scheduler.schedule(at: scheduler.now) { done.signal() }
        done.wait()
    }

    // MARK: Periodic

    func startPeriodic(firstDeadlines: [Int64], period: Int64, sink: TickSink) {
        periodics.reserveCapacity(firstDeadlines.count)
        for (index, first) in firstDeadlines.enumerated() {
            // The first tick is one period after the grid's origin.
            let handle = scheduler.schedule(
                every: .nanoseconds(period),
                startingAt: Self.instant(first - period),
                missedTicks: .skip
            ) { tick in
                sink.tick(index, expirations: tick.missed + 1)
            }
            periodics.append(handle)
        }
    }

    func waitForTicks(sink: TickSink, until deadline: Int64) {
        sink.waitForCompletion(until: deadline)
    }

    func stopPeriodic() {
        for handle in periodics { handle.cancel() }
        periodics = []
    }

    func shutdown() {
        scheduler.shutdown()
    }
}

/// `scheduler-spin`: `KQueueLoop(spin: .microseconds(50))`, the opt-in low-lateness mode that wakes
/// 50 µs before each deadline and spins on the clock; `precision` only (its note gives the CPU it costs).
final class SpinningSchedulerImplementation: SchedulerImplementation {
    override class var name: String { "scheduler-spin" }
    override class var workloads: Set<WorkloadName> { [.precision] }
    override class var spin: Duration { .microseconds(50) }
}

/// The churn callback's counter: a global, so that the closure captures nothing.
private enum ChurnCounter {
    static let fired = Atomic<Int>(0)
}

enum SchedulerImplementationError: Error, CustomStringConvertible {
    case cancelMismatch(callbacks: Int, failedCancels: Int)

    var description: String {
        switch self {
        case .cancelMismatch(let callbacks, let failedCancels):
            "\(callbacks) churn callbacks ran but \(failedCancels) cancel() calls returned false "
                + "(a cancelled timer fired, or a timer that was not cancelled never ran)"
        }
    }
}
#endif
