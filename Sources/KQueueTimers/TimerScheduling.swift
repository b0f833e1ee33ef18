import KQueue

/// The scheduling API shared by ``TimerScheduler`` (real time) and ``ManualClock`` (virtual
/// time), so code that uses timers can be tested deterministically.
public protocol TimerScheduling<Instant>: Sendable {
    associatedtype Instant: TimerInstant

    /// The current instant.
    var now: Instant { get }

    /// Runs `body` at `deadline` (at the next opportunity if it has passed).
    @discardableResult
    func schedule(at deadline: Instant, _ body: @escaping @Sendable () -> Void) -> TimerHandle

    /// Runs `body` every `period` on the grid start + k·period, with `missedTicks` deciding
    /// what happens when the timer falls behind.
    @discardableResult
    func schedule(
        every period: Duration,
        startingAt start: Instant?,
        missedTicks: MissedTickPolicy,
        _ body: @escaping @Sendable (TimerTick<Instant>) -> Void
    ) -> TimerHandle

    /// Moves a pending one-shot timer; false if it already fired or was cancelled, or is a
    /// periodic timer (those keep their grid: cancel one and start another to move it).
    @discardableResult
    func reschedule(_ timer: TimerHandle, to deadline: Instant) -> Bool

    /// The number of pending timers, sleeping tasks included.
    var pendingCount: Int { get }

    /// Suspends the task until `deadline`; cancellation ends it with `CancellationError`.
    func sleep(until deadline: Instant) async throws
}

extension TimerScheduling {
    /// Runs `body` once `delay` has passed.
    @discardableResult
    public func schedule(after delay: Duration, _ body: @escaping @Sendable () -> Void) -> TimerHandle {
        schedule(at: now.advanced(by: delay), body)
    }

    /// Moves a pending one-shot timer to `delay` from now; false if it already fired or was
    /// cancelled.
    @discardableResult
    public func reschedule(_ timer: TimerHandle, after delay: Duration) -> Bool {
        reschedule(timer, to: now.advanced(by: delay))
    }

    /// Suspends the task for `duration`.
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: now.advanced(by: duration))
    }
}

/// An instant counted in nanoseconds, the timeline of the timer wheel.
public protocol TimerInstant: InstantProtocol, Sendable where Duration == Swift.Duration {
    init(nanoseconds: Int64)
    var nanoseconds: Int64 { get }
}

extension TimerInstant {
    public func advanced(by duration: Duration) -> Self {
        Self(nanoseconds: nanoseconds.addingSaturating(duration.nanosecondsSaturating))
    }

    public func duration(to other: Self) -> Duration {
        .nanoseconds(nanoseconds.distanceSaturating(to: other.nanoseconds))
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }
}

extension TimerCore {
    /// Starts a periodic timer whose ticks are reported as `I` instants.
    func schedule<I: TimerInstant>(
        every period: Duration,
        startingAt start: I,
        missedTicks: MissedTickPolicy,
        _ body: @escaping @Sendable (TimerTick<I>) -> Void
    ) -> TimerHandle {
        let nanoseconds = period.nanosecondsSaturating
        precondition(nanoseconds > 0, "schedule(every:): the period must be positive, got \(period)")
        let grid = TickGrid(start: start.nanoseconds, period: nanoseconds, policy: missedTicks)
        return schedulePeriodic(
            PeriodicTimer(grid: grid) { deadline, missed in
                body(TimerTick(deadline: I(nanoseconds: deadline), missed: missed))
            }
        )
    }
}

extension Duration {
    /// The duration in whole nanoseconds (rounded toward zero), clamped to `Int64`.
    var nanosecondsSaturating: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return scaled.addingSaturating(attoseconds / 1_000_000_000)
    }
}
