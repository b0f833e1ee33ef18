/// Sizes and durations of the workloads: BENCHMARKS.md's by default, scaled down by `--quick`,
/// with the main count replaced by `--n`.
struct WorkloadParameters: Sendable {
    var quick = false
    var countOverride: Int?

    private static let ms = Int64.nanosecondsPerMillisecond
    private static let s = Int64.nanosecondsPerSecond

    /// The `n` of a workload: timers (churn, fire, fleet, kevent), periods (precision), 1 (idle),
    /// jobs (hop), tasks (sleepers), connections (echo).
    func count(_ workload: WorkloadName) -> Int {
        if workload == .idle { return 1 }
        if let countOverride { return countOverride }
        switch workload {
        case .churn, .fire: return quick ? 50_000 : 1_000_000
        case .precision: return quick ? 500 : 5_000
        case .fleet: return 10_000
        case .idle: return 1
        case .kevent: return quick ? 10_000 : 100_000
        case .hop: return quick ? 100_000 : 1_000_000
        case .sleepers: return quick ? 10_000 : 100_000
        case .echo: return quick ? 200 : 1_000
        }
    }

    /// churn: deadlines now + uniform[1 s, 60 s].
    let churnOffsets: ClosedRange<Int64> = (1 * s)...(60 * s)
    /// fire: deadlines now + uniform[0, 1000 ms] (250 ms with --quick).
    var fireOffsets: ClosedRange<Int64> { 0...(quick ? 250 * Self.ms : 1_000 * Self.ms) }
    /// fire: how long to wait past the last deadline before the missing timers count as lost.
    var fireGrace: Int64 { quick ? 10 * Self.s : 30 * Self.s }
    /// precision: period 1 ms.
    let precisionPeriod: Int64 = 1 * ms
    /// fleet: period 100 ms, run 5 s (1 s with --quick).
    let fleetPeriod: Int64 = 100 * ms
    var fleetDuration: Int64 { quick ? 1 * Self.s : 5 * Self.s }
    /// idle: one timer due in 60 s, waited on for 5 s (1 s with --quick).
    let idleDue: Int64 = 60 * s
    var idleWait: Int64 { quick ? 1 * Self.s : 5 * Self.s }
    /// kevent: data uniform[1, 1000] ms.
    let keventMilliseconds: ClosedRange<Int64> = 1...1_000
    /// kevent: how long to poll past the last deadline before the missing events count as lost.
    var keventGrace: Int64 { quick ? 10 * Self.s : 30 * Self.s }

    /// hop: how long to wait past the last submit before the jobs not run count as lost.
    var hopGrace: Int64 { quick ? 10 * Self.s : 30 * Self.s }

    /// sleepers: each task sleeps until start + uniform[10 ms, 1000 ms] (250 ms with --quick).
    var sleepersOffsets: ClosedRange<Int64> { (10 * Self.ms)...(quick ? 250 * Self.ms : 1_000 * Self.ms) }
    /// sleepers: when every second task is cancelled, after the start.
    let sleepersCancelAfter: Int64 = 50 * ms
    /// sleepers: how long after the last cancel the RSS is read again.
    let sleepersSettle: Int64 = 20 * ms
    /// sleepers: how long to wait past the last deadline before the tasks not ended count as lost.
    var sleepersGrace: Int64 { quick ? 10 * Self.s : 30 * Self.s }

    /// echo: round trips per connection, one at a time, and the size of each message.
    var echoRoundTrips: Int { quick ? 20 : 100 }
    let echoSize = 64

    /// Command-line arguments that recreate these parameters in a child process.
    var arguments: [String] {
        (quick ? ["--quick"] : []) + (countOverride.map { ["--n", String($0)] } ?? [])
    }
}
