/// fleet: 10,000 periodic timers, period 100 ms, phases spread evenly over the period, run 5 s.
/// CPU % of one core during the run, lateness p99, ticks delivered vs. expected (grid points in the run),
/// and the tolerance each timer was given (`-tol` implementations: 1 ms).
enum FleetWorkload {
    /// Time given to scheduling the fleet before its first tick is due.
    static let setupSlack: Int64 = 100 * .nanosecondsPerMillisecond

    static func run(_ type: any TimerImplementation.Type, parameters: WorkloadParameters) throws -> WorkloadResult {
        let timers = parameters.count(.fleet)
        let period = parameters.fleetPeriod

        let implementation = try type.init()
        let start = MonotonicClock.now() + setupSlack
        let firstDeadlines = (0..<timers).map { start + Int64($0) * period / Int64(timers) }
        let windowEnd = start + parameters.fleetDuration
        let sink = TickSink(
            firstDeadlines: firstDeadlines,
            period: period,
            windowEnd: windowEnd,
            targetTicksPerTimer: nil
        )

        try implementation.startPeriodic(firstDeadlines: firstDeadlines, period: period, sink: sink)
        let setupOverrun = MonotonicClock.now() - start
        let usageBefore = ResourceUsage.current()
        let wallBefore = MonotonicClock.now()
        // One more period lets the ticks due just before the end arrive.
        try implementation.waitForTicks(sink: sink, until: windowEnd + period)
        let usage = ResourceUsage.current() - usageBefore
        let wall = MonotonicClock.now() - wallBefore
        try implementation.stopPeriodic()
        try implementation.shutdown()

        let lateness = LatenessStatistics(nanoseconds: sink.latenesses)
        var result = WorkloadResult(workload: .fleet, impl: type.name, n: timers)
        result.set("cpu_pct", 100 * Double(usage.cpuNanoseconds) / Double(max(wall, 1)))
        result.set("lateness_us_p99", lateness.microseconds(atPercentile: 99))
        result.set("ticks", sink.deliveredCount)
        result.set("expected", sink.expectedTicks)
        result.set("tolerance_us", type.fleetToleranceMicroseconds)
        result.curve = lateness.curve()
        result.check(sink.earlyCount, "ticks delivered before their grid time")
        result.check(sink.silentTimers, "timers that never ticked (lost)")
        if setupOverrun > 0 {
            result.notes.append(
                "scheduling the fleet overran its \(setupSlack / 1_000_000) ms slack by \(setupOverrun / 1_000_000) ms"
            )
        }
        if sink.missedCount > 0 {
            result.notes.append("\(sink.missedCount) periods coalesced into other ticks (missed)")
        }
        return result
    }
}
