// Micro-benchmarks of KQueue's EVFILT_TIMER registration (ordo-one/benchmark).
//
//   swift package --disable-sandbox --package-path Benchmarks benchmark
//   swift package --disable-sandbox --package-path Benchmarks benchmark thresholds check \
//       --path Benchmarks/Thresholds/6.3
//
// Time on a shared 2-core machine is too noisy to gate on: the thresholds under Thresholds/6.3/ hold
// malloc counts only (see README.md for how to regenerate them).
import Benchmark
import KQueue

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        warmupIterations: 10,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 1_000
    )

    // One EV_ADD|EV_ONESHOT timer (due in 60 s, so it never fires) and its EV_DELETE, one change per
    // kevent call: the cost of arming and disarming one timeout.
    Benchmark("TimerAddDelete.single") { benchmark in
        let queue = try KQueue()
        var add = [KEvent()]
        var delete = [KEvent()]
        var noEvents: [KEvent] = []
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            add[0] = KEvent(ident: UInt(index), filter: .timer, flags: [.add, .oneshot], data: 60_000)
            delete[0] = KEvent(ident: UInt(index), filter: .timer, flags: [.delete])
            blackHole(try queue.kevent(changes: add, events: &noEvents, timeout: .zero))
            blackHole(try queue.kevent(changes: delete, events: &noEvents, timeout: .zero))
        }
    }

    // The same, 1,000 timers per call: what a batching caller pays per timer.
    Benchmark(
        "TimerAddDelete.batch1000",
        configuration: .init(scalingFactor: .one, maxIterations: 100)
    ) { benchmark in
        let queue = try KQueue()
        let adds = (0..<1_000).map { KEvent(ident: UInt($0), filter: .timer, flags: [.add, .oneshot], data: 60_000) }
        let deletes = (0..<1_000).map { KEvent(ident: UInt($0), filter: .timer, flags: [.delete]) }
        var noEvents: [KEvent] = []
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try queue.kevent(changes: adds, events: &noEvents, timeout: .zero))
            blackHole(try queue.kevent(changes: deletes, events: &noEvents, timeout: .zero))
        }
    }

    // TimerWheel / KQueueLoop micro-benchmarks go in a target of their own,
    // Benchmarks/KQueueTimersBenchmarks/KQueueTimersBenchmarks.swift (see Package.swift), with their
    // malloc-count thresholds in Thresholds/6.3/KQueueTimersBenchmarks.<name>.p90.json.
}
