/// What a child process reports for one (workload, impl): the public figures plus what only the
/// parent uses (errors, notes and the lateness curve for `--plot`).
struct WorkloadResult: Codable, Sendable {
    struct Figure: Codable, Sendable {
        var key: String
        var value: Double
        /// Digits after the point in the JSON line and the table; 0 prints an integer.
        var decimals: Int
    }

    var workload: WorkloadName
    var impl: String
    var n: Int
    var figures: [Figure] = []
    /// Early fires, lost timers and the like: each is printed as an ERROR and fails the run.
    var errors: [String] = []
    /// Caveats that explain a figure (a capped N, a drifting peer, ...).
    var notes: [String] = []
    /// Lateness distribution as (percentile, µs) points; not part of the public JSON line.
    var curve: [[Double]]?

    init(workload: WorkloadName, impl: String, n: Int) {
        self.workload = workload
        self.impl = impl
        self.n = n
    }

    mutating func set(_ key: String, _ value: Double, decimals: Int = 1) {
        precondition(workload.keys.contains(key), "\(key) is not a key of \(workload)")
        figures.append(Figure(key: key, value: value, decimals: decimals))
    }

    mutating func set(_ key: String, _ value: Int) {
        set(key, Double(value), decimals: 0)
    }

    func value(_ key: String) -> Double? {
        figures.first { $0.key == key }?.value
    }

    /// Records an error if `count` is not zero.
    mutating func check(_ count: Int, _ what: String) {
        if count != 0 { errors.append("\(count) \(what)") }
    }
}
