#if KQ_BENCH_LIBEV
import CLibev

/// `libev`: `ev_timer` watchers on one `ev_loop` (`ev_loop_new(EVFLAG_AUTO)`), run on the calling thread.
///
/// libev times timers from its cached `CLOCK_MONOTONIC` reading (`mn_now`) in seconds as doubles:
/// `after = deadline − t`, with `t` read just *before* `ev_now_update`, so a timer can only be later
/// than its deadline, never earlier. Periodic timers are `ev_timer` with `repeat` (not `ev_periodic`,
/// which follows the wall clock): after an expiry libev sets `at += repeat`, so it keeps the grid, and
/// when it is more than a period behind it restarts the grid from now, so the slip shows as drift.
/// On Linux `EVFLAG_AUTO` picks epoll, whose timeout has millisecond resolution (rounded up).
final class LibevImplementation: TimerImplementation {
    static let name = "libev"
    static let workloads: Set<WorkloadName> = [.churn, .fire, .precision, .fleet, .idle]

    private let loop: OpaquePointer
    private var oneShots = UnsafeMutableBufferPointer<ev_timer>(start: nil, count: 0)
    private var periodics = UnsafeMutableBufferPointer<ev_timer>(start: nil, count: 0)
    /// Breaks out of `ev_run` when a wait's deadline passes.
    private let stopWatcher = UnsafeMutablePointer<ev_timer>.allocate(capacity: 1)
    private var fireSink: FireSink?
    private var tickSink: TickSink?

    init() throws {
        guard let loop = clibev_loop_new() else { throw LibevError.loopCreationFailed }
        self.loop = loop
    }

    deinit {
        stopWatcher.deallocate()
        oneShots.deallocate()
        periodics.deallocate()
        ev_loop_destroy(loop)
    }

    private var context: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    private static func implementation(_ watcher: UnsafeMutablePointer<ev_timer>?) -> LibevImplementation {
        Unmanaged<LibevImplementation>.fromOpaque(watcher!.pointee.data).takeUnretainedValue()
    }

    /// Seconds from libev's cached now to `deadline`; see the type's comment.
    private func secondsUntil(_ deadline: Int64, from base: Int64) -> Double {
        Double(max(deadline - base, 0)) / 1e9
    }

    /// Reads our clock, then updates libev's: libev's cached now is not earlier than the result.
    private func updateLoopTime() -> Int64 {
        let base = MonotonicClock.now()
        ev_now_update(loop)
        return base
    }

    // MARK: One-shot

    func scheduleOneShots(sink: FireSink) {
        fireSink = sink
        oneShots = .allocate(capacity: sink.count)
        let base = updateLoopTime()
        for index in 0..<sink.count {
            let watcher = oneShots.baseAddress! + index
            clibev_timer_init(
                watcher,
                { _, watcher, _ in
                    let implementation = LibevImplementation.implementation(watcher)
                    let sink = implementation.fireSink!
                    sink.fired(watcher! - implementation.oneShots.baseAddress!)
                    if sink.isComplete { clibev_break_all(implementation.loop) }
                },
                secondsUntil(sink.deadlines[index], from: base),
                0
            )
            watcher.pointee.data = context
            ev_timer_start(loop, watcher)
        }
    }

    func cancelOneShots(order: [Int]) {
        for index in order {
            ev_timer_stop(loop, oneShots.baseAddress! + index)
        }
        oneShots.deallocate()
        oneShots = .init(start: nil, count: 0)
    }

    func waitForFires(sink: FireSink, until deadline: Int64) {
        if !sink.isComplete { run(until: deadline) }
    }

    // MARK: Periodic

    func startPeriodic(firstDeadlines: [Int64], period: Int64, sink: TickSink) {
        tickSink = sink
        periodics = .allocate(capacity: firstDeadlines.count)
        let base = updateLoopTime()
        for (index, first) in firstDeadlines.enumerated() {
            let watcher = periodics.baseAddress! + index
            clibev_timer_init(
                watcher,
                { _, watcher, _ in
                    let implementation = LibevImplementation.implementation(watcher)
                    let sink = implementation.tickSink!
                    sink.tick(watcher! - implementation.periodics.baseAddress!)
                    if sink.isComplete { clibev_break_all(implementation.loop) }
                },
                secondsUntil(first, from: base),
                Double(period) / 1e9
            )
            watcher.pointee.data = context
            ev_timer_start(loop, watcher)
        }
    }

    func waitForTicks(sink: TickSink, until deadline: Int64) {
        if !sink.isComplete { run(until: deadline) }
    }

    func stopPeriodic() {
        for index in periodics.indices {
            ev_timer_stop(loop, periodics.baseAddress! + index)
        }
        periodics.deallocate()
        periodics = .init(start: nil, count: 0)
    }

    // MARK: Loop

    /// Runs the loop on this thread until a callback breaks it or `deadline` (monotonic ns) passes.
    private func run(until deadline: Int64) {
        let base = updateLoopTime()
        clibev_timer_init(stopWatcher, { loop, _, _ in clibev_break_all(loop) }, secondsUntil(deadline, from: base), 0)
        stopWatcher.pointee.data = context
        ev_timer_start(loop, stopWatcher)
        ev_run(loop, 0)
        ev_timer_stop(loop, stopWatcher)
    }
}

enum LibevError: Error {
    case loopCreationFailed
}
#endif
