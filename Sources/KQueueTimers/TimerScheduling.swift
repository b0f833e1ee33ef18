import KQueue

/// The scheduling API shared by ``KQueueLoop`` (real time) and ``ManualClock`` (virtual
/// time), so code that uses timers can be tested deterministically.
///
/// Every timer may carry a tolerance: it runs at its deadline or up to that much later,
/// never before. A ``ManualClock`` runs every timer exactly at its deadline.
public protocol TimerScheduling<Instant>: Sendable {
    /// The scheduler's instants: ``KQueueClock/Instant`` for ``KQueueLoop``,
    /// ``ManualClock/Instant`` for ``ManualClock``.
    associatedtype Instant: TimerInstant

    /// The current instant.
    var now: Instant { get }

    /// Runs `body` at `deadline` (at the next opportunity if it has passed), or up to
    /// `tolerance` after it; nil leaves the tolerance to the scheduler.
    @discardableResult
    func schedule(at deadline: Instant, tolerance: Duration?, _ body: @escaping @Sendable () -> Void) -> TimerHandle

    /// Runs `body` every `period` on the grid start + k·period, each tick up to `tolerance`
    /// late, with `missedTicks` deciding what happens when the timer falls behind.
    @discardableResult
    func schedule(
        every period: Duration,
        startingAt start: Instant?,
        tolerance: Duration?,
        missedTicks: MissedTickPolicy,
        _ body: @escaping @Sendable (TimerTick<Instant>) -> Void
    ) -> TimerHandle

    /// Moves a pending one-shot timer; false if it already fired or was cancelled, or is a
    /// periodic timer (those keep their grid: cancel one and start another to move it).
    @discardableResult
    func reschedule(_ timer: TimerHandle, to deadline: Instant) -> Bool

    /// The number of pending timers, sleeping tasks included.
    var pendingCount: Int { get }

    /// Suspends the task until `deadline` (or up to `tolerance` after it); cancellation ends
    /// it with `CancellationError`.
    func sleep(until deadline: Instant, tolerance: Duration?) async throws
}

extension TimerScheduling {
    /// Runs `body` at `deadline`, with the scheduler's default tolerance.
    @discardableResult
    public func schedule(at deadline: Instant, _ body: @escaping @Sendable () -> Void) -> TimerHandle {
        schedule(at: deadline, tolerance: nil, body)
    }

    /// Runs `body` once `delay` has passed (or up to `tolerance` later).
    @discardableResult
    public func schedule(
        after delay: Duration,
        tolerance: Duration? = nil,
        _ body: @escaping @Sendable () -> Void
    ) -> TimerHandle {
        schedule(at: now.advanced(by: delay), tolerance: tolerance, body)
    }

    /// Runs `body` every `period`, with the scheduler's default tolerance.
    @discardableResult
    public func schedule(
        every period: Duration,
        startingAt start: Instant? = nil,
        missedTicks: MissedTickPolicy = .skip,
        _ body: @escaping @Sendable (TimerTick<Instant>) -> Void
    ) -> TimerHandle {
        schedule(every: period, startingAt: start, tolerance: nil, missedTicks: missedTicks, body)
    }

    /// Moves a pending one-shot timer to `delay` from now; false if it already fired or was
    /// cancelled.
    @discardableResult
    public func reschedule(_ timer: TimerHandle, after delay: Duration) -> Bool {
        reschedule(timer, to: now.advanced(by: delay))
    }

    /// Suspends the task until `deadline`, with the scheduler's default tolerance.
    public func sleep(until deadline: Instant) async throws {
        try await sleep(until: deadline, tolerance: nil)
    }

    /// Suspends the task for `duration` (or up to `tolerance` longer).
    public func sleep(for duration: Duration, tolerance: Duration? = nil) async throws {
        try await sleep(until: now.advanced(by: duration), tolerance: tolerance)
    }
}

/// An instant counted in nanoseconds, the timeline of the timer wheel.
public protocol TimerInstant: InstantProtocol, Sendable where Duration == Swift.Duration {
    /// The instant `nanoseconds` after the timeline's origin.
    init(nanoseconds: Int64)
    /// Nanoseconds since the timeline's origin.
    var nanoseconds: Int64 { get }
}

extension TimerInstant {
    /// The instant `duration` later; a fraction of a nanosecond counts as a whole one, so a
    /// deadline computed from a delay is never early. Clamped to the representable range.
    public func advanced(by duration: Duration) -> Self {
        Self(nanoseconds: nanoseconds.addingSaturating(duration.nanosecondsRoundedUp))
    }

    /// The duration from this instant to `other`.
    public func duration(to other: Self) -> Duration {
        .nanoseconds(nanoseconds.distanceSaturating(to: other.nanoseconds))
    }

    /// Whether `lhs` comes before `rhs`.
    public static func < (lhs: Self, rhs: Self) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
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

    /// The duration in whole nanoseconds, a fraction rounded up (toward +∞), clamped to
    /// `Int64`: a delay that becomes a deadline or a kernel timeout is never shortened.
    var nanosecondsRoundedUp: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        // `components` keeps attoseconds the sign of seconds; floor division then ceil.
        var nanoseconds = attoseconds / 1_000_000_000
        if attoseconds % 1_000_000_000 > 0 { nanoseconds += 1 }
        return scaled.addingSaturating(nanoseconds)
    }
}
