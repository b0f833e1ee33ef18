/// One implementation under test: a peer (dispatch, nio, concurrency, libev) or one of the project's
/// (loop, scheduler, kqueue, wheel). Each lives in one small file and is listed in `Implementations.all`.
///
/// The workloads drive every implementation through these few primitives, always with deadlines on
/// `MonotonicClock` (ns). A workload runs in its own child process, so an instance is created once,
/// used for one workload and then `shutdown()`. Primitives a workload does not use keep the default
/// (which traps): `workloads` says which workloads an implementation runs.
protocol TimerImplementation: AnyObject {
    /// The name on the command line and in the JSON (`impl`).
    static var name: String { get }
    /// The workloads this implementation runs; the others are skipped for it.
    static var workloads: Set<WorkloadName> { get }
    /// A smaller N than asked for, with the reason, when the full N cannot finish in reasonable time.
    static func cap(for workload: WorkloadName) -> (n: Int, reason: String)?
    /// fleet's `tolerance_us`: the tolerance in effect for each periodic timer, µs: the one it was given,
    /// or the implementation's default when it was given none (0: no tolerance at all).
    static var fleetToleranceMicroseconds: Int { get }

    init() throws

    // MARK: One-shot timers (churn, fire, idle)

    /// Schedules timer `i` for `sink.deadlines[i]`; its expiry calls `sink.fired(i)`. Does not wait.
    func scheduleOneShots(sink: FireSink) throws
    /// churn's `scheduleOneShots`: the timers are all cancelled long before they are due, so the callback
    /// may skip reporting which timer fired (e.g. a closure without captures); `cancelOneShots` must then
    /// report to the sink any timer that fired anyway. Defaults to `scheduleOneShots`.
    func scheduleCancellableOneShots(sink: FireSink) throws
    /// Cancels the timers in `order`, returning once every cancellation has taken effect.
    func cancelOneShots(order: [Int]) throws
    /// Lets timers fire until `sink.isComplete` or until `deadline` (monotonic ns) has passed.
    func waitForFires(sink: FireSink, until deadline: Int64) throws

    // MARK: Periodic timers (precision, fleet)

    /// Starts one periodic timer per entry of `firstDeadlines`; each expiry calls `sink.tick(i, expirations:)`.
    func startPeriodic(firstDeadlines: [Int64], period: Int64, sink: TickSink) throws
    /// Lets the periodic timers tick until `sink.isComplete` or until `deadline` (monotonic ns) has passed.
    func waitForTicks(sink: TickSink, until deadline: Int64) throws
    /// Stops every periodic timer.
    func stopPeriodic() throws

    // MARK: Jobs (hop)

    /// Submits `counter.target` closures, each calling `counter.ran()`, from the calling thread to the
    /// implementation's serial executor, one submission per closure. Does not wait for them to run.
    func submitJobs(counter: JobCounter) throws

    // MARK: Sleeping tasks (sleepers)

    /// Starts one task per entry of `sink.deadlines`; task `i` sleeps until `sink.deadlines[i]`, then
    /// calls `sink.woke(i)`, or `sink.cancelled(i)` if its sleep threw. Does not wait. Replaces the
    /// tasks of an earlier call.
    func startSleepers(sink: SleeperSink) throws
    /// Cancels task `index` of the last `startSleepers`.
    func cancelSleeper(_ index: Int) throws

    /// Releases threads, loops and descriptors.
    func shutdown() throws
}

extension TimerImplementation {
    static func cap(for workload: WorkloadName) -> (n: Int, reason: String)? { nil }
    static var fleetToleranceMicroseconds: Int { 0 }

    func scheduleOneShots(sink: FireSink) throws { unsupported() }
    func scheduleCancellableOneShots(sink: FireSink) throws { try scheduleOneShots(sink: sink) }
    func cancelOneShots(order: [Int]) throws { unsupported() }
    func waitForFires(sink: FireSink, until deadline: Int64) throws { unsupported() }
    func startPeriodic(firstDeadlines: [Int64], period: Int64, sink: TickSink) throws { unsupported() }
    func waitForTicks(sink: TickSink, until deadline: Int64) throws { unsupported() }
    func stopPeriodic() throws { unsupported() }
    func submitJobs(counter: JobCounter) throws { unsupported() }
    func startSleepers(sink: SleeperSink) throws { unsupported() }
    func cancelSleeper(_ index: Int) throws { unsupported() }
    func shutdown() throws {}

    private func unsupported(_ function: StaticString = #function) -> Never {
        fatalError("\(Self.name) does not implement \(function); remove the workload from its `workloads`")
    }
}

/// The implementations the runner knows, in the order of the tables.
enum Implementations {
    static var all: [any TimerImplementation.Type] {
        var list: [any TimerImplementation.Type] = []
        #if KQ_BENCH_PROJECT
        // The project's implementations come first, the reference (`loop`) at the top.
        list += [
            LoopImplementation.self,
            LoopToleranceImplementation.self,
            SchedulerImplementation.self,
            SpinningSchedulerImplementation.self,
            WheelImplementation.self,
            KQueueImplementation.self,
        ]
        #endif
        list += [
            DispatchImplementation.self,
            DispatchToleranceImplementation.self,
            NIOImplementation.self,
            ConcurrencyImplementation.self,
            ConcurrencyToleranceImplementation.self,
        ]
        #if KQ_BENCH_LIBEV
        list.append(LibevImplementation.self)
        #endif
        return list
    }

    /// The implementations this build of the runner left out, each with the reason.
    static var skipped: [(name: String, reason: String)] {
        #if KQ_BENCH_LIBEV_MISSING
        return [
            (
                "libev",
                "ev.h was not found when SwiftPM evaluated Benchmarks/Package.swift; install libev-dev "
                    + "(Benchmarks/README.md, Setup), then `swift package --package-path Benchmarks purge-cache` if it was built before"
            )
        ]
        #elseif KQ_BENCH_LIBEV_DISABLED
        return [("libev", "KQ_BENCH_NO_LIBEV was set when SwiftPM evaluated Benchmarks/Package.swift")]
        #else
        return []
        #endif
    }

    /// The implementation the tables compare against: the first of these that ran without error
    /// (`loop`, else `scheduler`, else `kqueue`), else none.
    static let referencePreference = ["loop", "scheduler", "kqueue"]

    static func named(_ name: String) -> (any TimerImplementation.Type)? {
        all.first { $0.name == name }
    }
}
