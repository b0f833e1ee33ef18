/// precision: one periodic timer, period 1 ms, 5,000 periods. Tick k is late against t0 + k·P;
/// drift = lateness of the last tick − lateness of the first; missed = periods not delivered.
enum PrecisionWorkload {
    static func run(_ type: any TimerImplementation.Type, parameters: WorkloadParameters) throws -> WorkloadResult {
        let periods = parameters.count(.precision)
        let period = parameters.precisionPeriod

        let implementation = try type.init()
        let first = MonotonicClock.now() + period
        let windowEnd = first + Int64(periods) * period
        let sink = TickSink(firstDeadlines: [first], period: period, windowEnd: windowEnd, targetTicksPerTimer: periods)
        try implementation.startPeriodic(firstDeadlines: [first], period: period, sink: sink)
        let usageBefore = ResourceUsage.current()
        let wallBefore = MonotonicClock.now()
        // A peer that slips (reschedules from the time it ran) needs longer than `periods` · P: let it.
        let giveUp = windowEnd + max(2 * Int64.nanosecondsPerSecond, windowEnd - first)
        try implementation.waitForTicks(sink: sink, until: giveUp)
        let usage = ResourceUsage.current() - usageBefore
        let wall = MonotonicClock.now() - wallBefore
        try implementation.stopPeriodic()
        try implementation.shutdown()

        let ticks = sink.latenesses
        let lateness = LatenessStatistics(nanoseconds: ticks)
        var result = WorkloadResult(workload: .precision, impl: type.name, n: periods)
        result.set("lateness_us_p50", lateness.microseconds(atPercentile: 50))
        result.set("lateness_us_p99", lateness.microseconds(atPercentile: 99))
        result.set("lateness_us_max", lateness.maxMicroseconds)
        result.set("drift_us", Double((ticks.last ?? 0) - (ticks.first ?? 0)) / 1_000)
        result.set("missed", periods - sink.deliveredCount)
        result.curve = lateness.curve()
        result.check(sink.earlyCount, "ticks delivered before their grid time")
        // Not a JSON key (BENCHMARKS.md fixes them), but what a spinning mode pays for its lateness.
        result.notes.append(
            "CPU \(JSONLine.number(100 * Double(usage.cpuNanoseconds) / Double(max(wall, 1)), decimals: 1)) % "
                + "of one core while ticking (user + sys, whole process), "
                + "\(usage.contextSwitches) context switches"
        )
        if !sink.isComplete {
            result.notes.append("stopped after \(sink.deliveredCount) of \(periods) ticks (gave up waiting)")
        }
        return result
    }
}
