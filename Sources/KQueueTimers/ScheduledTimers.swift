import KQueue
/// What a timer does when it fires.
enum TimerWork {
    /// A plain callback.
    case closure(@Sendable () -> Void)
    /// An object told of the fire or of the cancellation (a sleeping task).
    case action(any TimerAction)
    /// The next tick of a periodic timer.
    case periodic(PeriodicTimer)
}

/// An object waiting for a timer: it learns whether the timer fired or was cancelled by a
/// shutdown.
protocol TimerAction: AnyObject, Sendable {
    func fire()
    func cancel()
}

/// A fired timer, collected under the lock and run outside it.
enum Firing {
    case closure(@Sendable () -> Void)
    case action(any TimerAction)
    case tick(PeriodicTimer, deadline: Int64, missed: Int)

    func run() {
        switch self {
        case .closure(let body): body()
        case .action(let action): action.fire()
        case .tick(let timer, let deadline, let missed):
            // A tick collected before a cancel() returned true must not start after it.
            if !timer.isCancelled { timer.body(deadline, missed) }
        }
    }
}

/// The timers of a ``TimerScheduler`` or a ``ManualClock``: a ``TimerWheel`` of work,
/// the periodic timers' grids, and the owner's wake-up bookkeeping. Guarded by the lock of
/// its ``TimerCore``.
struct ScheduledTimers: ~Copyable {
    var wheel: TimerWheel<TimerWork>
    /// When the owner's thread wakes next if nothing changes; nil while it waits for no deadline.
    var wakeDeadline: Int64?
    /// A wake-up is already on its way to the owner's thread.
    var isWakeRequested = false
    var isShutDown = false

    init(now: Int64) {
        wheel = TimerWheel(now: now)
    }

    /// Adds a timer.
    ///
    /// - Returns: its id, and whether the owner's thread must be woken to re-arm its kernel
    ///   timer (the new deadline is earlier than the one it waits for).
    mutating func schedule(at deadline: Int64, _ work: TimerWork) -> (TimerID, wake: Bool) {
        let id = wheel.schedule(at: deadline, work)
        return (id, needsWake(for: deadline))
    }

    /// Moves a pending timer; false if it already fired or was cancelled.
    mutating func reschedule(_ id: TimerID, to deadline: Int64) -> (Bool, wake: Bool) {
        guard wheel.reschedule(id, to: deadline) else { return (false, false) }
        return (true, needsWake(for: deadline))
    }

    mutating func startPeriodic(_ timer: PeriodicTimer) -> Bool {
        let (id, wake) = schedule(at: timer.grid.nextDeadline, .periodic(timer))
        timer.timer = id
        return wake
    }

    mutating func cancelPeriodic(_ timer: PeriodicTimer) -> Bool {
        guard !timer.isCancelled else { return false }
        timer.isCancelled = true
        wheel.cancel(timer.timer)
        return true
    }

    private mutating func needsWake(for deadline: Int64) -> Bool {
        guard !isWakeRequested, deadline < (wakeDeadline ?? .max) else { return false }
        isWakeRequested = true
        return true
    }

    /// Fires every timer due at `now`, in deadline order, appending them to `firings`;
    /// periodic timers are put back on the wheel at their next tick.
    mutating func advance(to now: Int64, into firings: inout [Firing]) {
        let start = firings.count
        wheel.advance(to: now) { _, deadline, work in
            switch work {
            case .closure(let body): firings.append(.closure(body))
            case .action(let action): firings.append(.action(action))
            case .periodic(let timer): firings.append(.tick(timer, deadline: deadline, missed: 0))
            }
        }
        // Periodic timers: pick the tick per policy and re-arm the next one.
        for index in start..<firings.count {
            guard case .tick(let timer, _, _) = firings[index] else { continue }
            let (deadline, missed) = timer.grid.advance(now: now)
            firings[index] = .tick(timer, deadline: deadline, missed: missed)
            timer.timer = wheel.schedule(at: timer.grid.nextDeadline, .periodic(timer))
        }
    }

    /// Removes every pending timer (shutdown) and returns the actions to tell.
    mutating func removeAll() -> [any TimerAction] {
        var cancelled: [any TimerAction] = []
        wheel.advance(to: .max) { _, _, work in
            switch work {
            case .action(let action): cancelled.append(action)
            case .periodic(let timer): timer.isCancelled = true
            case .closure: break
            }
        }
        return cancelled
    }
}

/// The shared core of a timer owner: its timers under a lock, and how to wake its thread.
/// A ``TimerHandle`` refers to it.
final class TimerCore: Sendable {
    let timers: Locked<ScheduledTimers>
    /// Wakes the owner's thread so it re-arms its kernel timer (nothing for a manual clock).
    private let wakeOwner: @Sendable () -> Void

    init(now: Int64, wake: @escaping @Sendable () -> Void) {
        timers = Locked(ScheduledTimers(now: now))
        wakeOwner = wake
    }

    func schedule(at deadline: Int64, _ work: TimerWork) -> TimerHandle {
        let result = timers.withLock { timers -> (TimerID, wake: Bool)? in
            timers.isShutDown ? nil : timers.schedule(at: deadline, work)
        }
        guard let (id, wake) = result else {
            if case .action(let action) = work { action.cancel() }
            return TimerHandle(core: self, kind: .once(TimerID(index: .max, generation: .max)))
        }
        if wake { wakeOwner() }
        return TimerHandle(core: self, kind: .once(id))
    }

    func schedulePeriodic(_ timer: PeriodicTimer) -> TimerHandle {
        let wake = timers.withLock { timers -> Bool in
            if timers.isShutDown {
                timer.isCancelled = true
                return false
            }
            return timers.startPeriodic(timer)
        }
        if wake { wakeOwner() }
        return TimerHandle(core: self, kind: .periodic(timer))
    }

    func reschedule(_ handle: TimerHandle, to deadline: Int64) -> Bool {
        // A handle of another scheduler or clock names no timer here.
        guard handle.core === self else { return false }
        // A periodic timer keeps its grid: to move it, cancel it and start another.
        guard case .once(let id) = handle.kind else { return false }
        let (moved, wake) = timers.withLock { $0.reschedule(id, to: deadline) }
        if wake { wakeOwner() }
        return moved
    }

    var pendingCount: Int {
        timers.withLock { $0.wheel.count }
    }
}
