import Dispatch

/// `dispatch`: one `DispatchSourceTimer` per timer, all on one serial queue, leeway 0;
/// `DispatchToleranceImplementation` (`dispatch-tol`, fleet only) gives each a leeway of 1 ms.
///
/// Deadlines are `DispatchTime(uptimeNanoseconds:)`, which is `CLOCK_MONOTONIC` on Linux, so no
/// conversion. Periodic timers use `schedule(deadline:repeating:)`; `source.data` is the number of
/// expirations the handler covers.
class DispatchImplementation: TimerImplementation {
    class var name: String { "dispatch" }
    class var workloads: Set<WorkloadName> { [.churn, .fire, .precision, .fleet, .idle, .hop] }
    /// The leeway of every timer.
    class var leeway: DispatchTimeInterval { .nanoseconds(0) }
    class var fleetToleranceMicroseconds: Int { 0 }

    private let queue = DispatchQueue(label: "workloads.dispatch")
    private var oneShots: [any DispatchSourceTimer] = []
    private var periodics: [any DispatchSourceTimer] = []

    required init() {}

    func scheduleOneShots(sink: FireSink) {
        oneShots.reserveCapacity(sink.count)
        for index in 0..<sink.count {
            let source = DispatchSource.makeTimerSource(queue: queue)
            source.schedule(deadline: Self.time(sink.deadlines[index]), leeway: Self.leeway)
            source.setEventHandler { sink.fired(index) }
            source.activate()
            oneShots.append(source)
        }
    }

    func cancelOneShots(order: [Int]) {
        for index in order {
            oneShots[index].cancel()
        }
        oneShots = []
        queue.sync {}  // cancellation handlers and releases run on the queue: wait for them
    }

    func waitForFires(sink: FireSink, until deadline: Int64) {
        sink.waitForCompletion(until: deadline)
    }

    func startPeriodic(firstDeadlines: [Int64], period: Int64, sink: TickSink) {
        for (index, first) in firstDeadlines.enumerated() {
            let source = DispatchSource.makeTimerSource(queue: queue)
            source.schedule(deadline: Self.time(first), repeating: .nanoseconds(Int(period)), leeway: Self.leeway)
            // The handler retains its source; `cancel()` releases the handler and so breaks the cycle.
            source.setEventHandler {
                sink.tick(index, expirations: Int(source.data))
            }
            source.activate()
            periodics.append(source)
        }
    }

    func waitForTicks(sink: TickSink, until deadline: Int64) {
        sink.waitForCompletion(until: deadline)
    }

    func stopPeriodic() {
        for source in periodics { source.cancel() }
        periodics = []
        queue.sync {}
    }

    /// hop: `async` on the serial queue from the workload's thread.
    func submitJobs(counter: JobCounter) {
        for _ in 0..<counter.target {
            queue.async { counter.ran() }
        }
    }

    private static func time(_ monotonicNanoseconds: Int64) -> DispatchTime {
        DispatchTime(uptimeNanoseconds: UInt64(monotonicNanoseconds))
    }
}

/// `dispatch-tol`: `dispatch` with a leeway of 1 ms on each periodic timer (fleet only).
final class DispatchToleranceImplementation: DispatchImplementation {
    override class var name: String { "dispatch-tol" }
    override class var workloads: Set<WorkloadName> { [.fleet] }
    override class var leeway: DispatchTimeInterval { .milliseconds(1) }
    override class var fleetToleranceMicroseconds: Int { 1_000 }
}
