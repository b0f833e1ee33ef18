import Dispatch
import Synchronization

/// Where periodic timers report their ticks: timer `i` calls `tick(i, expirations:)` from its callback.
///
/// Timer `i`'s ideal grid is `firstDeadlines[i] + k·period`. A callback that covers `e` expirations
/// (kqueue's `data`, Dispatch's `source.data`) advances the timer by `e` grid points, counts `e − 1`
/// missed ticks and is late against the last grid point it covers. Implementations that never coalesce
/// (NIO, Concurrency, libev) pass 1; if they slip, the slip shows as growing lateness (drift).
///
/// Only grid points before `windowEnd` count. Thread-safe in the same way as `FireSink`: a timer's
/// callbacks are serial, different timers may call concurrently.
final class TickSink: @unchecked Sendable {
    let timerCount: Int
    let period: Int64
    let windowEnd: Int64
    /// Stop when every timer has covered this many grid points (precision); nil = run to `windowEnd` (fleet).
    let targetTicksPerTimer: Int?

    private let firstDeadlines: UnsafeMutableBufferPointer<Int64>
    /// Grid points covered so far, per timer.
    private let covered: UnsafeMutableBufferPointer<Int>
    /// Lateness of each delivered tick in delivery order, ns (up to `latenessCapacity`).
    private let latenessLog: UnsafeMutableBufferPointer<Int64>
    private let logged = Atomic<Int>(0)
    private let delivered = Atomic<Int>(0)
    private let missed = Atomic<Int>(0)
    private let early = Atomic<Int>(0)
    private let finishedTimers = Atomic<Int>(0)
    private let completion = DispatchSemaphore(value: 0)

    init(firstDeadlines: [Int64], period: Int64, windowEnd: Int64, targetTicksPerTimer: Int?) {
        timerCount = firstDeadlines.count
        self.period = period
        self.windowEnd = windowEnd
        self.targetTicksPerTimer = targetTicksPerTimer
        self.firstDeadlines = .allocate(capacity: timerCount)
        _ = self.firstDeadlines.initialize(from: firstDeadlines)
        covered = .allocate(capacity: timerCount)
        covered.initialize(repeating: 0)
        let capacity = firstDeadlines.reduce(0) { $0 + Self.gridPoints(from: $1, period: period, before: windowEnd) }
        latenessLog = .allocate(capacity: max(capacity, 1))
        latenessLog.initialize(repeating: 0)
    }

    deinit {
        firstDeadlines.deallocate()
        covered.deallocate()
        latenessLog.deallocate()
    }

    static func gridPoints(from first: Int64, period: Int64, before end: Int64) -> Int {
        first < end ? Int((end - first + period - 1) / period) : 0
    }

    /// Grid points before `windowEnd` over all timers: the ticks an ideal implementation delivers.
    var expectedTicks: Int { latenessLog.count }

    /// Records a callback of timer `index` that covers `expirations` periods (≥ 1).
    func tick(_ index: Int, expirations: Int = 1) {
        let now = MonotonicClock.now()
        let expirations = max(expirations, 1)
        let target = targetTicksPerTimer ?? Int.max
        let before = covered[index]
        guard before < target else { return }
        let after = before + expirations
        covered[index] = after
        let gridTime = firstDeadlines[index] + Int64(after - 1) * period
        guard gridTime < windowEnd else { return }
        let late = now - gridTime
        if late < 0 { early.add(1, ordering: .relaxed) }
        delivered.add(1, ordering: .relaxed)
        if expirations > 1 { missed.add(expirations - 1, ordering: .relaxed) }
        let slot = logged.add(1, ordering: .relaxed).oldValue
        if slot < latenessLog.count { latenessLog[slot] = late }
        if after >= target, finishedTimers.add(1, ordering: .acquiringAndReleasing).newValue == timerCount {
            completion.signal()
        }
    }

    var deliveredCount: Int { delivered.load(ordering: .acquiring) }
    var missedCount: Int { missed.load(ordering: .relaxed) }
    var earlyCount: Int { early.load(ordering: .relaxed) }
    var isComplete: Bool { finishedTimers.load(ordering: .acquiring) >= timerCount }
    /// Timers that delivered no tick at all.
    var silentTimers: Int { (0..<timerCount).count { covered[$0] == 0 } }

    /// Lateness of the logged ticks in delivery order, ns.
    var latenesses: [Int64] { Array(latenessLog.prefix(min(logged.load(ordering: .acquiring), latenessLog.count))) }

    /// Blocks until every timer reached its target or `deadline` (monotonic ns) passed.
    @discardableResult
    func waitForCompletion(until deadline: Int64) -> Bool {
        if isComplete { return true }
        let remaining = max(0, deadline - MonotonicClock.now())
        _ = completion.wait(timeout: .now() + .nanoseconds(Int(remaining)))
        return isComplete
    }
}
