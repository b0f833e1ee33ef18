/// hop: one foreign thread (the workload's) submits N closures to a serial executor; each increments a
/// counter; the last one notes the time. ns_per_job = (last run − first submit) / N; cpu_ns_per_job =
/// CPU (user + sys, whole process) over the same span / N.
enum HopWorkload {
    /// Jobs run before measuring, so that the executor's thread exists and its queues have grown.
    static let warmUpJobs = 1_000

    static func run(_ type: any TimerImplementation.Type, parameters: WorkloadParameters) throws -> WorkloadResult {
        let n = parameters.count(.hop)
        let implementation = try type.init()
        var result = WorkloadResult(workload: .hop, impl: type.name, n: n)

        let warmUp = JobCounter(target: warmUpJobs)
        try implementation.submitJobs(counter: warmUp)
        guard warmUp.wait(until: MonotonicClock.now() + parameters.hopGrace) else {
            result.errors.append("the \(warmUpJobs) warm-up jobs did not all run")
            try implementation.shutdown()
            return result
        }

        let counter = JobCounter(target: n)
        let usageBefore = ResourceUsage.current()
        let start = MonotonicClock.now()
        try implementation.submitJobs(counter: counter)
        let submitted = MonotonicClock.now()
        let finished = counter.wait(until: submitted + parameters.hopGrace)
        let usage = ResourceUsage.current() - usageBefore
        try implementation.shutdown()

        guard finished else {
            result.errors.append("not every job ran \(parameters.hopGrace / .nanosecondsPerSecond) s after the last submit")
            return result
        }
        result.set("ns_per_job", Double(counter.finishedAt - start) / Double(n))
        result.set("cpu_ns_per_job", Double(usage.cpuNanoseconds) / Double(n))
        result.notes.append(
            "submitting took \(JSONLine.number(Double(submitted - start) / Double(n), decimals: 1)) ns per job; "
                + "the last ran \(JSONLine.number(Double(max(counter.finishedAt - submitted, 0)) / 1e6, decimals: 1)) ms "
                + "after the last submit; \(usage.contextSwitches) context switches"
        )
        return result
    }
}
