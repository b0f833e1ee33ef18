import KQueue

/// A scheduled timer, to cancel it or ask whether it is still pending.
///
/// Handles are small values; keeping one does not keep the timer's callback alive after it
/// fired, and a handle whose timer fired or was cancelled can never affect another timer.
public struct TimerHandle: Sendable {
    enum Kind {
        case once(TimerID)
        case periodic(PeriodicTimer)
    }

    let core: TimerCore
    let kind: Kind

    /// Cancels the timer.
    ///
    /// - Returns: true if this call kept the timer from firing (for a periodic timer: from
    ///   firing again); false if it already fired, is firing right now, or was cancelled.
    ///   A periodic tick that is already running finishes.
    /// - Complexity: O(1).
    @discardableResult
    public func cancel() -> Bool {
        switch kind {
        case .once(let id):
            return core.timers.withLock { $0.wheel.cancel(id) } != nil
        case .periodic(let timer):
            return core.timers.withLock { $0.cancelPeriodic(timer) }
        }
    }

    /// Whether the timer will still fire: it was neither cancelled nor (for a one-shot
    /// timer) fired.
    public var isPending: Bool {
        switch kind {
        case .once(let id):
            return core.timers.withLock { $0.wheel.contains(id) }
        case .periodic(let timer):
            return core.timers.withLock { _ in !timer.isCancelled }
        }
    }
}
