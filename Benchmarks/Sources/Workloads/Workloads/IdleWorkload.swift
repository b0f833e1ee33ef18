/// idle: one timer due in 60 s; wait on it for 5 s, then cancel. CPU ms and context switches of the
/// whole process during the wait (the ideal is no wake-up at all).
enum IdleWorkload {
    static func run(_ type: any TimerImplementation.Type, parameters: WorkloadParameters) throws -> WorkloadResult {
        let implementation = try type.init()
        let sink = FireSink(deadlines: [MonotonicClock.now() + parameters.idleDue])
        try implementation.scheduleOneShots(sink: sink)

        let usageBefore = ResourceUsage.current()
        try implementation.waitForFires(sink: sink, until: MonotonicClock.now() + parameters.idleWait)
        let usage = ResourceUsage.current() - usageBefore
        try implementation.cancelOneShots(order: [0])
        try implementation.shutdown()

        var result = WorkloadResult(workload: .idle, impl: type.name, n: 1)
        result.set("cpu_ms", Double(usage.cpuNanoseconds) / 1_000_000, decimals: 3)
        result.set("ctx_switches", usage.contextSwitches)
        result.check(sink.firedCount, "timer fired before its 60 s deadline")
        return result
    }
}
