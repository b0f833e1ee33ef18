import Dispatch
import Synchronization

/// Where one-shot timers report that they fired: timer `i` calls `fired(i)` from its callback.
///
/// Safe to call from any thread, concurrently for different timers (the Concurrency peer does):
/// each timer writes only its own slot, counters are atomic. Nothing is allocated per call.
final class FireSink: @unchecked Sendable {
    /// Sentinel in `lateness`: the timer has not fired.
    static let notFired = Int64.min

    let count: Int
    /// Due time of each timer, monotonic ns.
    let deadlines: UnsafeMutableBufferPointer<Int64>
    /// Lateness of each timer (fire time − deadline, ns), or `notFired`.
    let lateness: UnsafeMutableBufferPointer<Int64>

    private let fired = Atomic<Int>(0)
    private let early = Atomic<Int>(0)
    private let duplicates = Atomic<Int>(0)
    private let completion = DispatchSemaphore(value: 0)

    init(deadlines: [Int64]) {
        count = deadlines.count
        self.deadlines = .allocate(capacity: max(count, 1))
        _ = self.deadlines.initialize(from: deadlines)
        lateness = .allocate(capacity: max(count, 1))
        lateness.initialize(repeating: FireSink.notFired)
    }

    deinit {
        deadlines.deallocate()
        lateness.deallocate()
    }

    /// Records that timer `index` fired now. Signals completion when the last one fires.
    func fired(_ index: Int) {
        let late = MonotonicClock.now() - deadlines[index]
        if lateness[index] != FireSink.notFired {
            duplicates.add(1, ordering: .relaxed)
        }
        lateness[index] = late
        if late < 0 {
            early.add(1, ordering: .relaxed)
        }
        if fired.add(1, ordering: .acquiringAndReleasing).newValue == count {
            completion.signal()
        }
    }

    var firedCount: Int { fired.load(ordering: .acquiring) }
    var earlyCount: Int { early.load(ordering: .relaxed) }
    var duplicateCount: Int { duplicates.load(ordering: .relaxed) }
    var isComplete: Bool { firedCount >= count }

    /// Blocks the calling thread until every timer fired or `deadline` (monotonic ns) passed.
    /// - Returns: whether every timer fired.
    @discardableResult
    func waitForCompletion(until deadline: Int64) -> Bool {
        if isComplete { return true }
        let remaining = max(0, deadline - MonotonicClock.now())
        _ = completion.wait(timeout: .now() + .nanoseconds(Int(remaining)))
        return isComplete
    }
}
