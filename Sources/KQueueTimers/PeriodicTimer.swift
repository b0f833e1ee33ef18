import Synchronization

/// A periodic timer: its grid, its callback and the wheel entry of its next tick.
///
/// Its owner (the loop's thread, or a manual clock under its lock) keeps it on the wheel,
/// one tick at a time; any thread may cancel it.
final class PeriodicTimer: @unchecked Sendable {
    // @unchecked: `grid` and `timer` are touched only by the owner (the loop's thread, or a
    // manual clock under its lock); `body` and `toleranceClass` never change; `cancelled` is
    // atomic.
    let body: @Sendable (_ deadline: Int64, _ missed: Int) -> Void
    var grid: TickGrid
    let toleranceClass: UInt8
    /// The wheel entry of the next tick.
    var timer = TimerID(index: .max, generation: .max)
    private let cancelled = Atomic<Bool>(false)

    init(
        grid: TickGrid,
        toleranceClass: UInt8 = 0,
        body: @escaping @Sendable (_ deadline: Int64, _ missed: Int) -> Void
    ) {
        self.grid = grid
        self.toleranceClass = toleranceClass
        self.body = body
    }

    /// Whether the timer was cancelled (or ended): no tick starts once this is true.
    var isCancelled: Bool {
        cancelled.load(ordering: .acquiring)
    }

    /// Marks the timer cancelled.
    ///
    /// - Returns: true for the one call that cancelled it.
    func markCancelled() -> Bool {
        !cancelled.exchange(true, ordering: .acquiringAndReleasing)
    }
}

extension PeriodicTimer {
    /// A periodic timer whose ticks are reported as `I` instants.
    convenience init<I: TimerInstant>(
        every period: Duration,
        startingAt start: I,
        toleranceClass: UInt8,
        missedTicks: MissedTickPolicy,
        _ body: @escaping @Sendable (TimerTick<I>) -> Void
    ) {
        let nanoseconds = period.nanosecondsSaturating
        precondition(nanoseconds > 0, "schedule(every:): the period must be positive, got \(period)")
        let grid = TickGrid(start: start.nanoseconds, period: nanoseconds, policy: missedTicks)
        self.init(grid: grid, toleranceClass: toleranceClass) { deadline, missed in
            body(TimerTick(deadline: I(nanoseconds: deadline), missed: missed))
        }
    }
}
