/// The workloads of shared/BENCHMARKS.md, in the order they run and print.
enum WorkloadName: String, CaseIterable, Codable, Sendable {
    case churn, fire, precision, fleet, idle, kevent, hop, sleepers, echo

    /// The figures of the workload, in the order of the JSON line and the table (BENCHMARKS.md).
    var keys: [String] {
        switch self {
        case .churn: ["ns_per_op", "bytes_per_timer"]
        case .fire: ["cpu_ns_per_timer", "ns_per_schedule", "lateness_us_p50", "lateness_us_p99", "lateness_us_max", "early", "lost"]
        case .precision: ["lateness_us_p50", "lateness_us_p99", "lateness_us_max", "drift_us", "missed"]
        case .fleet: ["cpu_pct", "lateness_us_p99", "ticks", "expected", "tolerance_us"]
        case .idle: ["cpu_ms", "ctx_switches"]
        case .kevent: ["ns_per_registration", "ns_per_single_registration", "wall_ms", "events"]
        case .hop: ["ns_per_job", "cpu_ns_per_job"]
        case .sleepers:
            [
                "cpu_ns_per_sleep", "lateness_us_p50", "lateness_us_p99", "bytes_per_sleeper",
                "bytes_per_sleeper_after_cancel", "early",
            ]
        case .echo:
            [
                "round_trips_per_s", "latency_us_p50", "latency_us_p99", "server_cpu_ms_per_1k",
                "server_bytes_per_connection", "errors",
            ]
        }
    }

    /// Whether the `--plot` picture shows this workload's lateness distribution.
    var isPlotted: Bool { self == .precision || self == .fleet }

    /// One sentence on what the workload models (for `--help` and the README).
    var summary: String {
        switch self {
        case .churn:
            "1M one-shot timers due in 1-60 s, all cancelled in shuffled order: request timeouts that never fire"
        case .fire: "1M one-shot timers due within 1 s, all fire: CPU per expiry and lateness under load"
        case .precision: "one 1 ms periodic timer for 5,000 periods: jitter and drift against the ideal grid"
        case .fleet: "10,000 periodic 100 ms timers with spread phases for 5 s: heartbeats of many connections"
        case .idle: "one timer due in 60 s, waited on for 5 s: wake-ups and CPU of an idle process"
        case .kevent: "100,000 one-shot EVFILT_TIMER registrations in one kqueue, polled until all returned"
        case .hop: "1M closures submitted from one foreign thread to a serial executor, each bumping a counter"
        case .sleepers: "100,000 tasks sleeping 10-1000 ms, every second one cancelled after 50 ms"
        case .echo: "1,000 TCP connections × 100 echoed round trips of 64 B, one at a time each, from another process"
        }
    }
}
