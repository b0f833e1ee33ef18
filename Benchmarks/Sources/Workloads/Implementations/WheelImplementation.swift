#if KQ_BENCH_PROJECT
import KQueueTimers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `wheel`: the bare `TimerWheel<Int>` (payload = the timer's index), with no thread and no lock: the
/// cost of the data structure alone, for the workloads that make sense without a scheduler.
///
/// `churn`: `schedule(at:_:)`, then `cancel(_:)` in the shuffled order (a cancel that does not hand back
/// the timer's own index fails the run). `fire`: the workload's thread drives the wheel itself,
/// sleeping with `clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)` until `nextDeadline` and then
/// calling `advance(to: now)`; as with `nio`, nothing fires before every timer is scheduled.
final class WheelImplementation: TimerImplementation {
    static let name = "wheel"
    static let workloads: Set<WorkloadName> = [.churn, .fire]

    private var wheel = TimerWheel<Int>(now: MonotonicClock.now())
    private var ids: [TimerID] = []

    init() {}

    // MARK: One-shot

    func scheduleOneShots(sink: FireSink) {
        ids.reserveCapacity(sink.count)
        for index in 0..<sink.count {
            ids.append(wheel.schedule(at: sink.deadlines[index], index))
        }
    }

    func cancelOneShots(order: [Int]) throws {
        for index in order {
            let payload = wheel.cancel(ids[index])
            guard payload == index else {
                throw WheelImplementationError.cancelFailed(index: index, payload: payload)
            }
        }
        ids = []
        guard wheel.isEmpty else { throw WheelImplementationError.notEmpty(count: wheel.count) }
    }

    func waitForFires(sink: FireSink, until deadline: Int64) {
        while !sink.isComplete, let next = wheel.nextDeadline {
            let now = MonotonicClock.now()
            guard now < deadline else { return }
            if next > now { Self.sleep(until: min(next, deadline)) }
            wheel.advance(to: MonotonicClock.now()) { _, _, index in sink.fired(index) }
        }
    }

    /// Sleeps until `deadline` (monotonic ns), absolute, so the time spent before the call does not add up.
    private static func sleep(until deadline: Int64) {
        var request = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &request, nil) == EINTR {}
    }
}

enum WheelImplementationError: Error, CustomStringConvertible {
    case cancelFailed(index: Int, payload: Int?)
    case notEmpty(count: Int)

    var description: String {
        switch self {
        case .cancelFailed(let index, let payload):
            "cancel of timer \(index) returned \(payload.map(String.init) ?? "nil") instead of its index"
        case .notEmpty(let count):
            "\(count) timers still pending after every timer was cancelled"
        }
    }
}
#endif
