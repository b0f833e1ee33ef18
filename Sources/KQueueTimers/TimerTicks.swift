/// The ticks of a periodic timer as an `AsyncSequence`: drift-free (tick k is due at
/// start + k·period), with missed ticks handled by a ``MissedTickPolicy`` and counted in
/// ``TimerTick/missed``. Cancelling the iterating task ends the sequence.
///
/// ```swift
/// for await tick in scheduler.ticks(every: .milliseconds(250)) {
///     print(tick.deadline, tick.missed)
/// }
/// ```
public struct TimerTicks<Scheduler: TimerScheduling>: AsyncSequence, Sendable {
    /// A tick, with its grid deadline on the scheduler's timeline and its missed count.
    public typealias Element = TimerTick<Scheduler.Instant>

    let scheduler: Scheduler
    let grid: TickGrid

    /// An iterator whose first tick is due one period after the grid's start.
    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(scheduler: scheduler, grid: grid)
    }

    /// Delivers the ticks by sleeping on the scheduler until each grid point; one task
    /// iterates it (it is not `Sendable`).
    public struct AsyncIterator: AsyncIteratorProtocol {
        let scheduler: Scheduler
        var grid: TickGrid

        /// The next tick, or nil once the task is cancelled (or the scheduler shut down).
        public mutating func next() async -> Element? {
            // A grid whose next tick lies beyond the end of time has ended.
            guard let next = grid.nextDeadline else { return nil }
            do {
                try await scheduler.sleep(until: Scheduler.Instant(nanoseconds: next))
            } catch {
                return nil
            }
            let (deadline, missed) = grid.advance(now: scheduler.now.nanoseconds)
            return TimerTick(deadline: Scheduler.Instant(nanoseconds: deadline), missed: missed)
        }
    }
}

@available(*, unavailable)
extension TimerTicks.AsyncIterator: Sendable {}

extension TimerScheduling {
    /// The ticks of a periodic timer, as an `AsyncSequence`.
    ///
    /// - Parameters:
    ///   - period: the interval between ticks; must be positive.
    ///   - start: the grid's origin; the first tick is one period after it. Defaults to now.
    ///   - missedTicks: what to do when the consumer falls behind.
    public func ticks(
        every period: Duration,
        startingAt start: Instant? = nil,
        missedTicks: MissedTickPolicy = .skip
    ) -> TimerTicks<Self> {
        let nanoseconds = period.nanosecondsSaturating
        precondition(nanoseconds > 0, "ticks(every:): the period must be positive, got \(period)")
        let origin = (start ?? now).nanoseconds
        return TimerTicks(scheduler: self, grid: TickGrid(start: origin, period: nanoseconds, policy: missedTicks))
    }
}
