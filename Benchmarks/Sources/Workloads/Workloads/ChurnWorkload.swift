/// churn: schedule N one-shot timers due now + uniform[1 s, 60 s], then cancel all in shuffled order.
/// ns_per_op = (schedule + cancel time) / N; bytes_per_timer = RSS growth / N with all N pending.
enum ChurnWorkload {
    static func run(_ type: any TimerImplementation.Type, parameters: WorkloadParameters) throws -> WorkloadResult {
        var n = parameters.count(.churn)
        var notes: [String] = []
        if let cap = type.cap(for: .churn), cap.n < n {
            notes.append("n capped at \(cap.n) (of \(n)): \(cap.reason)")
            n = cap.n
        }
        var random = SeededRandom()
        let offsets = random.uniform(n, in: parameters.churnOffsets)
        let cancelOrder = random.permutation(n)

        let implementation = try type.init()
        let now = MonotonicClock.now()
        let sink = FireSink(deadlines: offsets.map { now + $0 })

        let residentBefore = ResidentMemory.bytes()
        let scheduleStart = MonotonicClock.now()
        try implementation.scheduleCancellableOneShots(sink: sink)
        let scheduleEnd = MonotonicClock.now()
        let residentPending = ResidentMemory.bytes()
        let cancelStart = MonotonicClock.now()
        try implementation.cancelOneShots(order: cancelOrder)
        let cancelEnd = MonotonicClock.now()
        try implementation.shutdown()

        var result = WorkloadResult(workload: .churn, impl: type.name, n: n)
        let elapsed = (scheduleEnd - scheduleStart) + (cancelEnd - cancelStart)
        result.set("ns_per_op", Double(elapsed) / Double(n))
        result.set("bytes_per_timer", Double(residentPending - residentBefore) / Double(n))
        result.check(sink.earlyCount, "timers fired before their deadline")
        result.check(sink.duplicateCount, "timers fired twice")
        if sink.firedCount > 0 {
            notes.append("\(sink.firedCount) timers fired (legitimately, after ≥ 1 s) before they were cancelled")
        }
        result.notes = notes
        return result
    }
}
