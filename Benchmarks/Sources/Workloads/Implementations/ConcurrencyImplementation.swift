import Dispatch
import Synchronization

/// `concurrency`: one unstructured `Task` per timer, sleeping with
/// `Task.sleep(until:clock: .continuous)`; cancelling a timer is `task.cancel()`.
///
/// `ContinuousClock` is `CLOCK_BOOTTIME` on Linux, which differs from `CLOCK_MONOTONIC` by a constant
/// while the machine does not suspend: deadlines are converted with an offset sampled once, monotonic
/// first, so a conversion error can only make a timer later, never earlier.
/// `scheduleOneShots` returns once every task is running and about to sleep, so that churn's
/// RSS is taken with all N sleeping; a periodic task sleeps until `first + k·P`, so it catches up
/// instead of coalescing and never drifts.
///
/// `ConcurrencyToleranceImplementation` (`concurrency-tol`, fleet only) sleeps with `tolerance: 1 ms`.
class ConcurrencyImplementation: TimerImplementation {
    class var name: String { "concurrency" }
    class var workloads: Set<WorkloadName> { [.churn, .fire, .precision, .fleet, .idle, .sleepers] }
    /// The tolerance of each periodic sleep; nil = `Task.sleep`'s default (none).
    class var periodicTolerance: Duration? { nil }
    class var fleetToleranceMicroseconds: Int { 0 }

    private var oneShots: [Task<Void, Never>] = []
    private var oneShotsEnded = Counter(target: 0)
    private var periodics: [Task<Void, Never>] = []
    /// sleepers: the handles, each dropped when its task is cancelled so that it does not keep the
    /// ended task's memory.
    private var sleepers: [Task<Void, Never>?] = []
    private let monotonicOrigin: Int64
    private let continuousOrigin: ContinuousClock.Instant

    required init() {
        monotonicOrigin = MonotonicClock.now()
        continuousOrigin = ContinuousClock.now
    }

    private func instant(_ monotonicNanoseconds: Int64) -> ContinuousClock.Instant {
        continuousOrigin.advanced(by: .nanoseconds(monotonicNanoseconds - monotonicOrigin))
    }

    func scheduleOneShots(sink: FireSink) {
        let started = Counter(target: sink.count)
        let ended = Counter(target: sink.count)
        oneShotsEnded = ended
        oneShots.reserveCapacity(sink.count)
        for index in 0..<sink.count {
            let deadline = instant(sink.deadlines[index])
            oneShots.append(
                Task {
                    defer { ended.increment() }
                    started.increment()
                    do {
                        try await Task.sleep(until: deadline, clock: .continuous)
                    } catch {
                        return  // cancelled
                    }
                    sink.fired(index)
                }
            )
        }
        started.waitUntilReached()
    }

    func cancelOneShots(order: [Int]) {
        for index in order {
            oneShots[index].cancel()
        }
        // A cancelled sleep resumes its task on the pool: the cancellation is done when every task
        // has ended (the workloads always cancel all of them).
        oneShotsEnded.waitUntilReached()
        oneShots = []
    }

    func waitForFires(sink: FireSink, until deadline: Int64) {
        sink.waitForCompletion(until: deadline)
    }

    func startPeriodic(firstDeadlines: [Int64], period: Int64, sink: TickSink) {
        let tolerance = Self.periodicTolerance
        for (index, first) in firstDeadlines.enumerated() {
            let first = instant(first)
            periodics.append(
                Task {
                    var next = first
                    while true {
                        do {
                            try await Task.sleep(until: next, tolerance: tolerance, clock: .continuous)
                        } catch {
                            return  // cancelled
                        }
                        sink.tick(index)
                        next = next.advanced(by: .nanoseconds(period))
                    }
                }
            )
        }
    }

    /// sleepers: a plain `Task { }` on the default executor sleeping with
    /// `Task.sleep(until:clock: .continuous)`; cancel = `task.cancel()`.
    func startSleepers(sink: SleeperSink) {
        sleepers = []
        sleepers.reserveCapacity(sink.count)
        for index in 0..<sink.count {
            let deadline = instant(sink.deadlines[index])
            sleepers.append(
                Task {
                    do {
                        try await Task.sleep(until: deadline, clock: .continuous)
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

    func waitForTicks(sink: TickSink, until deadline: Int64) {
        sink.waitForCompletion(until: deadline)
    }

    func stopPeriodic() {
        for task in periodics { task.cancel() }
        periodics = []
    }
}

/// `concurrency-tol`: `concurrency` with `tolerance: .milliseconds(1)` on each periodic sleep (fleet only).
final class ConcurrencyToleranceImplementation: ConcurrencyImplementation {
    override class var name: String { "concurrency-tol" }
    override class var workloads: Set<WorkloadName> { [.fleet] }
    override class var periodicTolerance: Duration? { .milliseconds(1) }
    override class var fleetToleranceMicroseconds: Int { 1_000 }
}

/// Counts up from many threads; one thread blocks until the target is reached.
private final class Counter: Sendable {
    private let value = Atomic<Int>(0)
    private let target: Int
    private let reached = DispatchSemaphore(value: 0)

    init(target: Int) {
        self.target = target
        if target == 0 { reached.signal() }
    }

    func increment() {
        if value.add(1, ordering: .acquiringAndReleasing).newValue == target {
            reached.signal()
        }
    }

    func waitUntilReached() {
        reached.wait()
    }
}
