import KQueue

/// What a periodic timer does when it falls behind its grid (its thread was busy or the
/// machine was suspended).
///
/// Every policy reports the ticks it skipped in ``TimerTick/missed``; only ``delay`` moves
/// the grid.
public enum MissedTickPolicy: Sendable, Hashable {
    /// Deliver every missed tick, back to back, until the timer has caught up. `missed` is
    /// always 0.
    case burst
    /// Deliver one tick for the latest grid point that is due, report the skipped ones in
    /// `missed`, and carry on on the same grid.
    case skip
    /// Deliver one tick for the latest grid point that is due, report the skipped ones in
    /// `missed`, and, if any were skipped, restart the grid from now: the next tick comes one
    /// full period after this one. A tick that is late by less than a period moves nothing.
    case delay
}

/// One tick of a periodic timer.
public struct TimerTick<Instant: InstantProtocol & Sendable>: Sendable {
    /// The grid point this tick stands for (start + k·period); the tick runs at or after it.
    public var deadline: Instant
    /// The number of grid points skipped just before this tick (0 when on time).
    public var missed: Int

    /// A tick for the grid point `deadline`, after `missed` skipped ones; useful to build the
    /// expected ticks in a test.
    public init(deadline: Instant, missed: Int) {
        self.deadline = deadline
        self.missed = missed
    }
}

extension TimerTick: CustomStringConvertible {
    /// The tick's deadline and the ticks it skipped: `"tick at 12.000250000 s, missed 0"`.
    public var description: String {
        "tick at \(deadline), missed \(missed)"
    }
}

/// The fixed grid of a periodic timer, start + k·period, in nanoseconds.
struct TickGrid {
    /// The grid origin: tick k is due at start + k·period.
    private(set) var start: Int64
    let period: Int64
    let policy: MissedTickPolicy
    /// The index k of the next tick.
    private(set) var next: Int64 = 1

    init(start: Int64, period: Int64, policy: MissedTickPolicy) {
        precondition(period > 0, "a periodic timer needs a positive period")
        self.start = start
        self.period = period
        self.policy = policy
    }

    /// The deadline of the next tick, or nil when it lies beyond `Int64.max` nanoseconds:
    /// the timer has no next tick, and ends.
    var nextDeadline: Int64? {
        deadline(ofTick: next)
    }

    private func deadline(ofTick index: Int64) -> Int64? {
        let (offset, overflow) = index.multipliedReportingOverflow(by: period)
        if overflow { return nil }
        let (deadline, beyond) = start.addingReportingOverflow(offset)
        return beyond ? nil : deadline
    }

    /// Takes the tick to deliver now that the next tick is due at `now`, per the policy,
    /// and moves on to the tick after it.
    ///
    /// - Returns: the delivered tick's grid deadline and the number of ticks it skipped.
    mutating func advance(now: Int64) -> (deadline: Int64, missed: Int) {
        // Only a tick that has a deadline is ever due.
        let due = nextDeadline ?? .max
        // The last grid point at or before now.
        let latest = max(next, start.distanceSaturating(to: now) / period)
        let behind = Int(latest - next)
        switch policy {
        case .burst:
            next += 1
            return (due, 0)
        case .skip:
            next = latest + 1
            return (deadline(ofTick: latest) ?? due, behind)
        case .delay:
            guard behind > 0 else {
                next += 1
                return (due, 0)
            }
            let deadline = deadline(ofTick: latest) ?? due
            start = now
            next = 1
            return (deadline, behind)
        }
    }
}
