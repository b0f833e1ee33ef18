import Dispatch
import KQueue

/// Timers on the loop: the ``TimerScheduling`` API.
///
/// Called on the loop's thread, scheduling and cancelling touch the wheel directly: no lock,
/// no atomic read-modify-write, no allocation once the wheel has grown. Called from another
/// thread, scheduling allocates the timer's state and sends it through the loop's inbox; it
/// never waits for the loop's work. `cancel()` is O(1) and lock-free from any thread, and
/// true only if the callback will never start.
extension KQueueLoop: TimerScheduling {
    /// The loop's instants are those of ``KQueueClock``: the kernel's monotonic clock.
    public typealias Instant = KQueueClock.Instant

    /// Runs `body` on the loop's thread at `deadline` (at once if it has passed), or up to
    /// `tolerance` after it, never before.
    ///
    /// The loop uses the tolerances of pending timers to share wake-ups between dense
    /// deadlines; a lone timer still runs at its deadline. Without a tolerance, the loop's
    /// default (see ``init(tolerance:spin:)``) applies.
    ///
    /// - Returns: a handle to cancel the timer.
    /// - Complexity: O(1).
    @discardableResult
    public func schedule(
        at deadline: Instant,
        tolerance: Duration? = nil,
        _ body: @escaping @Sendable () -> Void
    ) -> TimerHandle {
        core.schedule(at: deadline.nanoseconds, toleranceClass: toleranceClass(tolerance), .closure(body))
    }

    /// Runs `body` every `period` on the loop's thread, on the fixed grid start + k·period (it
    /// never drifts).
    ///
    /// - Parameters:
    ///   - period: the interval between ticks; must be positive.
    ///   - start: the grid's origin; the first tick is one period after it. Defaults to now.
    ///   - tolerance: how late each tick may run to share a wake-up; the loop's default if nil.
    ///   - missedTicks: what to do when the timer falls behind; every policy reports the
    ///     ticks it skipped in ``TimerTick/missed``.
    ///   - body: called with each tick.
    /// - Returns: a handle; cancelling it stops the ticks.
    @discardableResult
    public func schedule(
        every period: Duration,
        startingAt start: Instant? = nil,
        tolerance: Duration? = nil,
        missedTicks: MissedTickPolicy = .skip,
        _ body: @escaping @Sendable (TimerTick<Instant>) -> Void
    ) -> TimerHandle {
        let timer = PeriodicTimer(
            every: period,
            startingAt: start ?? now,
            toleranceClass: toleranceClass(tolerance),
            missedTicks: missedTicks,
            body
        )
        return core.start(timer)
    }

    /// Moves a pending one-shot timer to a new deadline.
    ///
    /// On the loop's thread the move is done when this returns. From another thread it is
    /// sent to the loop, which makes it before it next runs timers; if the old deadline comes
    /// first, the timer fires there.
    ///
    /// - Returns: false if the timer already fired or was cancelled, is periodic, or belongs
    ///   to another loop or clock (nothing changes).
    /// - Complexity: O(1).
    @discardableResult
    public func reschedule(_ timer: TimerHandle, to deadline: Instant) -> Bool {
        core.reschedule(timer, to: deadline.nanoseconds)
    }

    /// The number of pending timers (a periodic timer counts as one; sleeping tasks count).
    ///
    /// From another thread this asks the loop and waits for the answer; 0 once the loop has
    /// shut down.
    public var pendingCount: Int {
        if isCurrent { return core.state.pointee.timers.count }
        let answer = PendingCount()
        guard execute({ [core] in answer.set(core.state.pointee.timers.count) }) else { return 0 }
        return answer.wait()
    }

    /// Suspends the task until `deadline` (or up to `tolerance` after it) on the loop's wheel.
    /// A task running on the loop sleeps without leaving it.
    ///
    /// - Throws: `CancellationError` when the task is cancelled (its timer is freed at once)
    ///   or the loop shuts down.
    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        let toleranceClass = toleranceClass(tolerance)
        try await Sleeper.sleep { [core] sleeper in
            core.schedule(at: deadline.nanoseconds, toleranceClass: toleranceClass, .sleeper(sleeper))
        }
    }

    /// The tolerance class of a timer: its own tolerance rounded down to a class (never more
    /// than it allows), or the loop's default.
    func toleranceClass(_ tolerance: Duration?) -> UInt8 {
        guard let tolerance else { return core.defaultToleranceClass }
        return ToleranceClasses.of(tolerance.nanosecondsSaturating)
    }
}

/// The answer to ``KQueueLoop/pendingCount`` from another thread.
private final class PendingCount: @unchecked Sendable {
    // @unchecked: `value` is written before the semaphore is signalled and read after the
    // wait.
    private var value = 0
    private let ready = DispatchSemaphore(value: 0)

    func set(_ value: Int) {
        self.value = value
        ready.signal()
    }

    func wait() -> Int {
        ready.wait()
        return value
    }
}

extension LoopCore {
    /// A handle that names no timer.
    private var noTimer: TimerHandle {
        TimerHandle(owner: self, kind: .local(TimerID(index: .max, generation: .max)))
    }

    @inline(__always)
    func schedule(at deadline: Int64, toleranceClass: UInt8, _ work: TimerWork) -> TimerHandle {
        if isCurrent {
            guard !state.pointee.isStopping else {
                work.abandon()
                return noTimer
            }
            let id = state.pointee.timers.schedule(at: deadline, toleranceClass: toleranceClass, work)
            return TimerHandle(owner: self, kind: .local(id))
        }
        let timer = RemoteTimer(deadline: deadline, toleranceClass: toleranceClass, work: work)
        if !inbox.send(.schedule(timer)) { timer.abandon() }
        return TimerHandle(owner: self, kind: .remote(timer))
    }

    func start(_ timer: PeriodicTimer) -> TimerHandle {
        if isCurrent {
            if state.pointee.isStopping {
                _ = timer.markCancelled()
            } else {
                state.pointee.timers.start(timer)
            }
        } else if !inbox.send(.startPeriodic(timer)) {
            _ = timer.markCancelled()
        }
        return TimerHandle(owner: self, kind: .periodic(timer))
    }

    func reschedule(_ handle: TimerHandle, to deadline: Int64) -> Bool {
        // A handle of another loop or clock names no timer here.
        guard handle.belongs(to: self) else { return false }
        switch handle.kind {
        case .local(let id):
            if isCurrent { return state.pointee.timers.reschedule(id, to: deadline) }
            guard board.isPending(id) else { return false }
            return inbox.send(.moveLocal(id, deadline: deadline))
        case .remote(let timer):
            if isCurrent, timer.timer != nil {
                return state.pointee.timers.reschedule(timer, to: deadline)
            }
            guard timer.isPending else { return false }
            return inbox.send(.moveRemote(timer, deadline: deadline))
        case .periodic:
            // A periodic timer keeps its grid: to move it, cancel it and start another.
            return false
        }
    }
}
