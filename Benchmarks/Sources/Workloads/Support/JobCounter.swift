import Dispatch

/// hop: counts the jobs that ran on a serial executor; the last one notes the time and signals.
///
/// The count is a plain integer, touched only by the jobs, which the executor under test runs one at a
/// time (that is what makes it serial); the workload's thread reads `finishedAt` after the semaphore.
final class JobCounter: @unchecked Sendable {
    let target: Int
    private var count = 0
    /// When the last job ran, monotonic ns.
    private(set) var finishedAt: Int64 = 0
    private let done = DispatchSemaphore(value: 0)

    init(target: Int) {
        self.target = target
    }

    /// One job ran.
    func ran() {
        count += 1
        if count == target {
            finishedAt = MonotonicClock.now()
            done.signal()
        }
    }

    /// Blocks until the last job ran or `deadline` (monotonic ns) passed.
    /// - Returns: whether the last job ran.
    func wait(until deadline: Int64) -> Bool {
        let remaining = max(0, deadline - MonotonicClock.now())
        return done.wait(timeout: .now() + .nanoseconds(Int(remaining))) == .success
    }
}
