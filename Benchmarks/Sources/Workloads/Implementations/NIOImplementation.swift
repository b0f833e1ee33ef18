import NIOCore
import NIOPosix

/// `nio`: one event loop of a `MultiThreadedEventLoopGroup(numberOfThreads: 1)`.
///
/// One-shots are `scheduleTask(deadline:)` (`NIODeadline.uptimeNanoseconds` is `CLOCK_MONOTONIC`,
/// as ours) and `Scheduled.cancel()`; all scheduling and cancelling happens on the loop's thread, in one
/// loop task per batch (off-loop calls would take a lock and wake the loop each), so in `fire` nothing
/// fires until every timer is scheduled: fire's notes give how long that took.
/// Periodic timers are `scheduleRepeatedTask(initialDelay:delay:)`, which schedules the next run
/// `delay` after the previous one ran: it never coalesces and it drifts, which `drift_us` shows.
final class NIOImplementation: TimerImplementation {
    static let name = "nio"
    static let workloads: Set<WorkloadName> = [.churn, .fire, .precision, .fleet, .idle, .hop]

    static func cap(for workload: WorkloadName) -> (n: Int, reason: String)? {
        // SelectableEventLoop cancels with PriorityQueue.removeFirst(where:), a linear scan:
        // cancelling 1M pending timers would take about N²/4 comparisons (hours).
        workload == .churn ? (50_000, "Scheduled.cancel() is O(n) (PriorityQueue.removeFirst(where:))") : nil
    }

    /// Loop-confined state: touched only on `loop`'s thread.
    private final class LoopState: @unchecked Sendable {
        var oneShots: [Scheduled<Void>] = []
        var periodics: [RepeatedTask] = []
    }

    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let loop: any EventLoop
    private let state = LoopState()

    init() {
        loop = group.next()
    }

    func scheduleOneShots(sink: FireSink) throws {
        try loop.submit { [loop, state] in
            state.oneShots.reserveCapacity(sink.count)
            for index in 0..<sink.count {
                let deadline = NIODeadline.uptimeNanoseconds(UInt64(sink.deadlines[index]))
                state.oneShots.append(loop.scheduleTask(deadline: deadline) { sink.fired(index) })
            }
        }.wait()
    }

    func cancelOneShots(order: [Int]) throws {
        try loop.submit { [state] in
            for index in order {
                state.oneShots[index].cancel()
            }
            state.oneShots = []
        }.wait()
    }

    func waitForFires(sink: FireSink, until deadline: Int64) {
        sink.waitForCompletion(until: deadline)
    }

    func startPeriodic(firstDeadlines: [Int64], period: Int64, sink: TickSink) throws {
        try loop.submit { [loop, state] in
            for (index, first) in firstDeadlines.enumerated() {
                // NIO reads its clock after ours, so the first run is never before `first`.
                let task = loop.scheduleRepeatedTask(
                    initialDelay: .nanoseconds(max(first - MonotonicClock.now(), 0)),
                    delay: .nanoseconds(period)
                ) { _ in sink.tick(index) }
                state.periodics.append(task)
            }
        }.wait()
    }

    func waitForTicks(sink: TickSink, until deadline: Int64) {
        sink.waitForCompletion(until: deadline)
    }

    func stopPeriodic() throws {
        try loop.submit { [state] in
            for task in state.periodics { task.cancel() }
            state.periodics = []
        }.wait()
    }

    /// hop: `EventLoop.execute` from the workload's thread (a foreign thread for the loop).
    func submitJobs(counter: JobCounter) {
        for _ in 0..<counter.target {
            loop.execute { counter.ran() }
        }
    }

    func shutdown() throws {
        try group.syncShutdownGracefully()
    }
}
