// Micro-benchmarks of KQueueTimers' TimerWheel and KQueueLoop (ordo-one/benchmark).
//
//   swift package --disable-sandbox --package-path Benchmarks benchmark --target KQueueTimersBenchmarks
//   swift package --disable-sandbox --package-path Benchmarks benchmark thresholds check \
//       --path Benchmarks/Thresholds/6.3
//
// Time on a shared 2-core machine is too noisy to gate on: the thresholds under Thresholds/6.3/ hold
// malloc counts only (see README.md for how to regenerate them). Every deadline comes from a seeded
// generator and the wheel benchmarks run on virtual time, so the malloc counts are deterministic.
import Benchmark
import Dispatch
import KQueueTimers

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        warmupIterations: 10,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 1_000
    )

    // One schedule and its cancel on a wheel that holds 10,000 other timers due in 1-60 s: the cost of
    // arming and disarming one request timeout in the bare data structure (no lock, no thread).
    Benchmark("TimerWheel.scheduleCancel") { benchmark in
        var random = SplitMix64()
        let now = virtualNow
        var wheel = TimerWheel<Int>(now: now)
        for index in 0..<10_000 {
            _ = wheel.schedule(at: now + random.nanoseconds(in: 1 * second...60 * second), index)
        }
        let deadlines = benchmark.scaledIterations.map { _ in now + random.nanoseconds(in: 1 * second...60 * second) }
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            let id = wheel.schedule(at: deadlines[index], index)
            blackHole(wheel.cancel(id))
        }
    }

    // 1,000 timers due within 1 s, fired by advancing from one `nextDeadline` to the next, as
    // the loop's thread does: the cost per fired timer (cascades included). Scheduling is not measured.
    Benchmark("TimerWheel.advance") { benchmark in
        var random = SplitMix64()
        let now = virtualNow
        var wheel = TimerWheel<Int>(now: now)
        for index in benchmark.scaledIterations {
            _ = wheel.schedule(at: now + random.nanoseconds(in: 0...second), index)
        }
        benchmark.startMeasurement()
        var fired = 0
        while let next = wheel.nextDeadline {
            fired += wheel.advance(to: max(next, wheel.now)) { _, _, payload in blackHole(payload) }
        }
        benchmark.stopMeasurement()
        if fired != benchmark.scaledIterations.count {
            benchmark.error("fired \(fired) of \(benchmark.scaledIterations.count) timers")
        }
    }

    // One `schedule(after:)` and its `cancel()` from the benchmark's thread (not the loop's), with a
    // closure that captures nothing: each schedule sends the timer to the loop through its inbox (a
    // RemoteTimer object per timer) and each cancel a message to free it. A timer due at 60 s stays
    // pending throughout, so none of the timers scheduled here is due while the benchmark runs.
    let fixture = LoopFixture()
    Benchmark(
        "KQueueLoop.scheduleCancel",
        closure: { benchmark, loop in
            for _ in benchmark.scaledIterations {
                let handle = loop.schedule(after: .seconds(120)) {}
                blackHole(handle.cancel())
            }
        },
        setup: { try fixture.start() },
        teardown: { fixture.stop() }
    )

    // The same on the loop's own thread, as code running on the loop schedules its timeouts: the
    // iterations run in one job (`execute`), the benchmark's thread waits for it; schedule and cancel
    // touch the wheel directly.
    let onLoopFixture = LoopFixture()
    Benchmark(
        "KQueueLoop.scheduleCancel.onLoop",
        closure: { benchmark, loop in
            let iterations = benchmark.scaledIterations
            onLoopFixture.runOnLoop {
                for _ in iterations {
                    let handle = loop.schedule(after: .seconds(120)) {}
                    blackHole(handle.cancel())
                }
            }
        },
        setup: { try onLoopFixture.start() },
        teardown: { onLoopFixture.stop() }
    )
}

/// An arbitrary instant for the wheel benchmarks, which run on virtual time (the wheel has no clock).
private let virtualNow: Int64 = 1_000 * second
private let second: Int64 = 1_000_000_000

/// The loop of a `KQueueLoop` benchmark, created once for all its iterations.
private final class LoopFixture: @unchecked Sendable {
    private var loop: KQueueLoop?
    /// Signalled by a job on the loop when it is done; created once, so a run allocates nothing for it.
    private let done = DispatchSemaphore(value: 0)

    func start() throws -> KQueueLoop {
        let loop = try KQueueLoop()
        self.loop = loop
        loop.schedule(after: .seconds(60)) {}
        // Let the loop's thread take the timer and go to sleep before measuring.
        usleep(50_000)
        return loop
    }

    /// Runs `body` on the loop's thread and waits for it.
    func runOnLoop(_ body: @escaping @Sendable () -> Void) {
        guard let loop else { return }
        loop.execute { [done] in
            body()
            done.signal()
        }
        done.wait()
    }

    func stop() {
        loop?.shutdown()
        loop = nil
    }
}

/// SplitMix64 with seed 42, as the workloads: the same deadlines in every run.
private struct SplitMix64 {
    private var state: UInt64 = 42

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func nanoseconds(in range: ClosedRange<Int64>) -> Int64 {
        range.lowerBound + Int64(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }
}
