/// fire: schedule N one-shot timers due now + uniform[0, 1000 ms]; run until all fired.
/// CPU (user + sys) per fired timer over the whole run, wall ns per schedule (the call that schedules
/// all N / N), lateness percentiles, early and lost timers.
enum FireWorkload {
    static func run(_ type: any TimerImplementation.Type, parameters: WorkloadParameters) throws -> WorkloadResult {
        var n = parameters.count(.fire)
        var notes: [String] = []
        if let cap = type.cap(for: .fire), cap.n < n {
            notes.append("n capped at \(cap.n) (of \(n)): \(cap.reason)")
            n = cap.n
        }
        var random = SeededRandom()
        let offsets = random.uniform(n, in: parameters.fireOffsets)

        let implementation = try type.init()
        let now = MonotonicClock.now()
        let sink = FireSink(deadlines: offsets.map { now + $0 })

        let usageBefore = ResourceUsage.current()
        let scheduleStart = MonotonicClock.now()
        try implementation.scheduleOneShots(sink: sink)
        let scheduled = MonotonicClock.now()
        let firedWhileScheduling = sink.firedCount
        let giveUp = max(now + parameters.fireOffsets.upperBound, MonotonicClock.now()) + parameters.fireGrace
        try implementation.waitForFires(sink: sink, until: giveUp)
        let usage = ResourceUsage.current() - usageBefore
        let fired = sink.firedCount
        try implementation.shutdown()

        let lateness = LatenessStatistics(nanoseconds: sink.lateness)
        var result = WorkloadResult(workload: .fire, impl: type.name, n: n)
        result.set("cpu_ns_per_timer", Double(usage.cpuNanoseconds) / Double(max(fired, 1)))
        result.set("ns_per_schedule", Double(scheduled - scheduleStart) / Double(n))
        result.set("lateness_us_p50", lateness.microseconds(atPercentile: 50))
        result.set("lateness_us_p99", lateness.microseconds(atPercentile: 99))
        result.set("lateness_us_max", lateness.maxMicroseconds)
        result.set("early", sink.earlyCount)
        result.set("lost", n - fired)
        result.check(sink.earlyCount, "timers fired before their deadline")
        result.check(
            n - fired,
            "timers lost (not fired \(parameters.fireGrace / .nanosecondsPerSecond) s after the last deadline)"
        )
        result.check(sink.duplicateCount, "timers fired twice")
        notes.append(
            "scheduling all \(n) took \(JSONLine.number(Double(scheduled - now) / 1e6, decimals: 1)) ms "
                + "(timers due meanwhile may wait for it)"
        )
        let dueWhileScheduling = (0..<n).count { sink.deadlines[$0] <= scheduled }
        if dueWhileScheduling > 0 {
            notes.append(
                "\(dueWhileScheduling) timers fell due while scheduling; \(firedWhileScheduling) had fired when it ended"
            )
        }
        // Separates the cost of firing from the interference of scheduling (contention, or no firing at all
        // before scheduling ends): the lateness of the timers due after the last one was scheduled.
        let dueAfter = (0..<n).filter { sink.deadlines[$0] > scheduled }
        let steady = LatenessStatistics(nanoseconds: dueAfter.lazy.map { sink.lateness[$0] })
        if steady.count > 0 {
            notes.append(
                "the \(steady.count) timers due after scheduling ended: lateness µs p50 / p99 / max "
                    + [steady.microseconds(atPercentile: 50), steady.microseconds(atPercentile: 99), steady.maxMicroseconds]
                    .map { JSONLine.number($0, decimals: 1) }.joined(separator: " / ")
            )
        }
        result.notes = notes
        return result
    }
}
