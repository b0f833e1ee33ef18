import Dispatch
import Synchronization

/// sleepers: where sleeping tasks report how their sleep ended. Task `i` sleeps until `deadlines[i]`,
/// then calls `woke(i)`, or, when its sleep throws (it was cancelled), `cancelled(i)`.
///
/// Safe to call from any thread, concurrently for different tasks: each writes only its own slot,
/// counters are atomic. `cancelIssuedAt` is written and read by the workload's thread only.
final class SleeperSink: @unchecked Sendable {
    let count: Int
    /// Wake-up time of each task, monotonic ns.
    let deadlines: UnsafeMutableBufferPointer<Int64>
    /// Lateness of each sleep that ended normally (wake time − deadline, ns), or `FireSink.notFired`.
    let lateness: UnsafeMutableBufferPointer<Int64>
    /// Whether each task's sleep threw.
    let threw: UnsafeMutableBufferPointer<Bool>
    /// When the workload's `cancel()` of each task returned, monotonic ns; `Int64.max` if not cancelled.
    let cancelIssuedAt: UnsafeMutableBufferPointer<Int64>

    private let woken = Atomic<Int>(0)
    private let cancellations = Atomic<Int>(0)
    private let early = Atomic<Int>(0)
    private let ended = Atomic<Int>(0)
    private let completion = DispatchSemaphore(value: 0)

    init(deadlines: [Int64]) {
        count = deadlines.count
        self.deadlines = .allocate(capacity: max(count, 1))
        _ = self.deadlines.initialize(from: deadlines)
        lateness = .allocate(capacity: max(count, 1))
        lateness.initialize(repeating: FireSink.notFired)
        threw = .allocate(capacity: max(count, 1))
        threw.initialize(repeating: false)
        cancelIssuedAt = .allocate(capacity: max(count, 1))
        cancelIssuedAt.initialize(repeating: .max)
    }

    deinit {
        deadlines.deallocate()
        lateness.deallocate()
        threw.deallocate()
        cancelIssuedAt.deallocate()
    }

    /// Task `index`'s sleep ended normally, now.
    func woke(_ index: Int) {
        let late = MonotonicClock.now() - deadlines[index]
        lateness[index] = late
        if late < 0 { early.add(1, ordering: .relaxed) }
        woken.add(1, ordering: .relaxed)
        end()
    }

    /// Task `index`'s sleep threw (`CancellationError`).
    func cancelled(_ index: Int) {
        threw[index] = true
        cancellations.add(1, ordering: .relaxed)
        end()
    }

    private func end() {
        if ended.add(1, ordering: .acquiringAndReleasing).newValue == count {
            completion.signal()
        }
    }

    var wokenCount: Int { woken.load(ordering: .relaxed) }
    var cancelledCount: Int { cancellations.load(ordering: .relaxed) }
    var earlyCount: Int { early.load(ordering: .relaxed) }
    var endedCount: Int { ended.load(ordering: .acquiring) }
    var isComplete: Bool { endedCount >= count }

    /// Blocks until every task's sleep ended or `deadline` (monotonic ns) passed.
    @discardableResult
    func waitForCompletion(until deadline: Int64) -> Bool {
        if isComplete { return true }
        let remaining = max(0, deadline - MonotonicClock.now())
        _ = completion.wait(timeout: .now() + .nanoseconds(Int(remaining)))
        return isComplete
    }
}
