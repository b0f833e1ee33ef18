#if canImport(Glibc)
import Glibc
#endif

/// sleepers: N tasks, task i sleeping until start + uniform[10 ms, 1000 ms] (seed 42), then recording its
/// lateness; `sleepersCancelAfter` (50 ms) after the start, every second task (odd indices) is cancelled.
///
/// - `cpu_ns_per_sleep`: CPU (user + sys, whole process) from before the first task is created until
///   every task has ended, / N (every task counts, cancelled or not).
/// - `lateness_us_p50` / `_p99`: over the sleeps that ended normally.
/// - `bytes_per_sleeper`: (peak RSS − baseline) / N; the baseline is taken after a warm-up sleeper and
///   with the sink allocated, the peak is the larger of the RSS once all N tasks are created and the RSS
///   just before the cancellations.
/// - `bytes_per_sleeper_after_cancel`: (RSS `sleepersSettle` (20 ms) after the last cancel() returned
///   − baseline) / (N/2). The implementations drop a task's handle when they cancel it, so that the
///   handle does not keep the ended task's memory. It is the memory still held per task that was not cancelled: it equals
///   `bytes_per_sleeper` × 2 when the cancelled half freed nothing, and `bytes_per_sleeper` when a
///   cancelled sleep gave its memory back at once (at most, as the tasks due by then have ended too).
///   A note adds the RSS after `malloc_trim(0)` right after that reading (glibc keeps freed pages).
/// - `early`: sleeps that ended normally before their deadline. Errors besides: a cancelled task whose
///   sleep ended normally although its deadline was after the cancel() (the cancel was ignored), a task
///   whose sleep threw without being cancelled, tasks that never ended.
enum SleepersWorkload {
    static func run(_ type: any TimerImplementation.Type, parameters: WorkloadParameters) throws -> WorkloadResult {
        let n = parameters.count(.sleepers)
        var random = SeededRandom()
        let offsets = random.uniform(n, in: parameters.sleepersOffsets)
        let implementation = try type.init()
        var result = WorkloadResult(workload: .sleepers, impl: type.name, n: n)

        // One sleeper first, so that the executor's threads exist before the baseline.
        let warmUp = SleeperSink(deadlines: [MonotonicClock.now() + 1 * .nanosecondsPerMillisecond])
        try implementation.startSleepers(sink: warmUp)
        guard warmUp.waitForCompletion(until: MonotonicClock.now() + parameters.sleepersGrace) else {
            result.errors.append("the warm-up sleeper never woke")
            try implementation.shutdown()
            return result
        }

        let sink = SleeperSink(deadlines: [Int64](repeating: 0, count: n))
        let residentBefore = ResidentMemory.bytes()
        let usageBefore = ResourceUsage.current()
        let start = MonotonicClock.now()
        for index in 0..<n { sink.deadlines[index] = start + offsets[index] }
        try implementation.startSleepers(sink: sink)
        let created = MonotonicClock.now()
        let residentCreated = ResidentMemory.bytes()
        let endedWhileCreating = sink.endedCount

        let cancelAt = start + parameters.sleepersCancelAfter
        MonotonicClock.sleep(until: cancelAt)
        let residentPeak = max(residentCreated, ResidentMemory.bytes())
        let cancelStart = MonotonicClock.now()
        for index in stride(from: 1, to: n, by: 2) {
            try implementation.cancelSleeper(index)
            sink.cancelIssuedAt[index] = MonotonicClock.now()
        }
        let cancelEnd = MonotonicClock.now()
        let endedBeforeCancel = stride(from: 1, to: n, by: 2).count {
            sink.lateness[$0] != FireSink.notFired && sink.deadlines[$0] <= cancelStart
        }
        MonotonicClock.sleep(until: cancelEnd + parameters.sleepersSettle)
        let residentAfterCancel = ResidentMemory.bytes()
        // Not a key: whether the cancelled half's memory went back to the allocator (RSS alone cannot
        // tell, as malloc keeps freed pages): the RSS once the allocator returned its free pages.
        let residentTrimmed = trimMalloc() ? ResidentMemory.bytes() : nil

        let giveUp = max(start + parameters.sleepersOffsets.upperBound, MonotonicClock.now()) + parameters.sleepersGrace
        sink.waitForCompletion(until: giveUp)
        let usage = ResourceUsage.current() - usageBefore
        try implementation.shutdown()

        var ignoredCancels = 0
        var spuriousThrows = 0
        for index in 0..<n {
            let wasCancelled = sink.cancelIssuedAt[index] != .max
            if sink.threw[index] {
                if !wasCancelled { spuriousThrows += 1 }
            } else if sink.lateness[index] != FireSink.notFired, wasCancelled,
                sink.deadlines[index] > sink.cancelIssuedAt[index]
            {
                ignoredCancels += 1
            }
        }
        let cancelled = n / 2
        let lateness = LatenessStatistics(nanoseconds: UnsafeBufferPointer(sink.lateness))
        result.set("cpu_ns_per_sleep", Double(usage.cpuNanoseconds) / Double(n))
        result.set("lateness_us_p50", lateness.microseconds(atPercentile: 50))
        result.set("lateness_us_p99", lateness.microseconds(atPercentile: 99))
        result.set("bytes_per_sleeper", Double(residentPeak - residentBefore) / Double(n))
        result.set(
            "bytes_per_sleeper_after_cancel",
            Double(residentAfterCancel - residentBefore) / Double(max(n - cancelled, 1))
        )
        result.set("early", sink.earlyCount)
        result.check(sink.earlyCount, "sleeps ended before their deadline")
        result.check(ignoredCancels, "cancelled tasks whose sleep ended normally after the cancel (deadline later)")
        result.check(spuriousThrows, "sleeps that threw without being cancelled")
        result.check(n - sink.endedCount, "tasks that never ended")
        result.notes.append(
            "creating the \(n) tasks took \(JSONLine.number(Double(created - start) / 1e6, decimals: 1)) ms; "
                + "the \(cancelled) cancel() calls took \(JSONLine.number(Double(cancelEnd - cancelStart) / 1e6, decimals: 1)) ms, "
                + "from \(JSONLine.number(Double(cancelStart - start) / 1e6, decimals: 1)) ms after the start"
        )
        if cancelStart - start > parameters.sleepersCancelAfter + 10 * .nanosecondsPerMillisecond {
            // Creating the tasks took longer than the cancel's 50 ms: the workload is not what it models.
            result.notes.append(
                "WARNING: the cancellations came \(JSONLine.number(Double(cancelStart - start) / 1e6, decimals: 1)) ms "
                    + "after the start instead of \(parameters.sleepersCancelAfter / .nanosecondsPerMillisecond) ms: "
                    + "\(endedBeforeCancel) of the \(cancelled) tasks to cancel were due before them (and ended normally), and "
                    + "\(endedWhileCreating) tasks had ended before the last was created (the peak RSS is not "
                    + "that of N sleeping tasks)"
            )
        }
        result.notes.append(
            "\(sink.wokenCount) sleeps ended normally, \(sink.cancelledCount) threw CancellationError; "
                + "\(usage.contextSwitches) context switches"
        )
        result.notes.append(
            "RSS MB: baseline \(megabytes(residentBefore)), all created \(megabytes(residentCreated)), "
                + "peak \(megabytes(residentPeak)), 20 ms after the cancels \(megabytes(residentAfterCancel))"
                + (residentTrimmed.map { ", then after malloc_trim(0) \(megabytes($0))" } ?? "")
        )
        return result
    }

    /// glibc's `malloc_trim(0)` (not in Swift's Glibc module, so looked up): returns the allocator's
    /// free pages to the kernel. False where there is no such function.
    private static func trimMalloc() -> Bool {
        #if canImport(Glibc)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return false }
        let trim = unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
        _ = trim(0)
        return true
        #else
        return false
        #endif
    }

    private static func megabytes(_ bytes: Int) -> String {
        JSONLine.number(Double(bytes) / 1_048_576, decimals: 1)
    }
}
