import KQueue

/// A clock whose time moves only when a test says so: virtual time for deterministic tests
/// of code that uses timers.
///
/// It has the scheduling API of ``TimerScheduler`` (``TimerScheduling``) and is a `Clock`,
/// so `Task.sleep(for:clock:)` works on it. ``advance(by:)`` and ``advance(to:)`` fire the
/// due timers synchronously, on the calling thread, in deadline order (equal deadlines
/// first-in first-out); while a callback runs, ``now`` is its deadline. Nothing sleeps or
/// yields: a sleeping task is resumed by the advance that reaches its deadline, and runs
/// whenever its executor runs it.
///
/// ```swift
/// let clock = ManualClock()
/// clock.schedule(after: .seconds(5)) { print("fired at", clock.now) }
/// clock.advance(by: .seconds(5))  // prints "fired at 5000000000 ns"
/// ```
public final class ManualClock: Clock, TimerScheduling {
    /// A moment of virtual time: nanoseconds since the clock's origin.
    public struct Instant: TimerInstant, Hashable, CustomStringConvertible {
        public var nanoseconds: Int64

        public init(nanoseconds: Int64) {
            self.nanoseconds = nanoseconds
        }

        public var description: String { "\(nanoseconds) ns" }
    }

    let core: TimerCore

    /// A clock that starts at `now`.
    public init(now: Instant = Instant(nanoseconds: 0)) {
        core = TimerCore(now: now.nanoseconds, wake: {})
    }

    public var now: Instant {
        Instant(nanoseconds: core.timers.withLock { $0.wheel.now })
    }

    public var minimumResolution: Duration {
        .nanoseconds(1)
    }

    @discardableResult
    public func schedule(at deadline: Instant, _ body: @escaping @Sendable () -> Void) -> TimerHandle {
        core.schedule(at: deadline.nanoseconds, .closure(body))
    }

    @discardableResult
    public func schedule(
        every period: Duration,
        startingAt start: Instant? = nil,
        missedTicks: MissedTickPolicy = .skip,
        _ body: @escaping @Sendable (TimerTick<Instant>) -> Void
    ) -> TimerHandle {
        core.schedule(every: period, startingAt: start ?? now, missedTicks: missedTicks, body)
    }

    @discardableResult
    public func reschedule(_ timer: TimerHandle, to deadline: Instant) -> Bool {
        core.reschedule(timer, to: deadline.nanoseconds)
    }

    public var pendingCount: Int {
        core.pendingCount
    }

    public func sleep(until deadline: Instant) async throws {
        try await core.sleep(until: deadline.nanoseconds)
    }

    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try await core.sleep(until: deadline.nanoseconds)
    }

    /// Moves time forward by `duration`, firing every timer due on the way.
    public func advance(by duration: Duration) {
        advance(to: now.advanced(by: duration))
    }

    /// Moves time forward to `target`, firing every timer due on the way, in deadline order;
    /// timers scheduled by those callbacks fire too if they are due by `target`. Time never
    /// goes backwards: a target in the past moves no time, but still fires the timers that
    /// are already due (those scheduled in the past).
    public func advance(to target: Instant) {
        var firings: [Firing] = []
        while true {
            let fired = core.timers.withLock { timers -> Bool in
                let target = max(target.nanoseconds, timers.wheel.now)
                guard let next = timers.wheel.nextDeadline, next <= target else {
                    timers.advance(to: target, into: &firings)
                    return false
                }
                // One deadline at a time, so callbacks see `now` at their own deadline.
                timers.advance(to: max(next, timers.wheel.now), into: &firings)
                return true
            }
            for firing in firings { firing.run() }
            firings.removeAll(keepingCapacity: true)
            if !fired { return }
        }
    }
}
