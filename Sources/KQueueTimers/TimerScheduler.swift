import KQueue
import SystemPackage

/// Schedules very many timers on one kernel timer.
///
/// Timers live in a ``TimerWheel``; one thread sleeps in ``KQueue/kevent(changes:events:timeout:)``
/// with exactly one EVFILT_TIMER armed at the wheel's earliest deadline, and runs the
/// callbacks of the timers that are due, serially, in deadline order. Other threads schedule
/// and cancel from anywhere; when one of them adds a timer earlier than the armed deadline it
/// wakes the scheduler's thread through an EVFILT_USER event, so the kernel timer is re-armed.
/// With nothing due the thread sleeps in the kernel: no polling, no periodic tick.
///
/// ```swift
/// let scheduler = try TimerScheduler()
/// let timeout = scheduler.schedule(after: .seconds(30)) { print("idle for 30 s") }
/// timeout.cancel()
/// ```
///
/// Timers fire at their exact deadline, never before; the wheel's 1 ms slots cost no
/// precision. When deadlines crowd together (thousands of timers a second), waking for each
/// would cost more than the callbacks: the scheduler then wakes at most once per
/// `coalescing` interval and runs every timer due by then, so a timer is late by at most that
/// much on top of the kernel's wake-up latency (never early). A lone timer is not delayed.
/// For lower lateness at the price of CPU, `spin` wakes a little early and spins the last
/// stretch.
public final class TimerScheduler: TimerScheduling {
    /// The process-wide scheduler, created on first use; ``KQueueClock`` sleeps on it by default.
    public static let shared: TimerScheduler = {
        do {
            return try TimerScheduler()
        } catch {
            fatalError("TimerScheduler.shared: cannot create the kernel queue: \(error)")
        }
    }()

    let core: TimerCore
    private let queue: KQueue
    private let thread: SchedulerThread

    /// The ident of the scheduler's EVFILT_TIMER and of its EVFILT_USER wake-up event.
    private static let eventIdent: UInt = 1

    /// Wakes the scheduler's thread: triggers its EVFILT_USER event.
    private static func wake(_ queue: KQueue) {
        try? queue.kevent(changes: [KEvent(ident: eventIdent, filter: .user, fflags: .trigger)])
    }

    /// Creates a scheduler and starts its thread.
    ///
    /// - Parameters:
    ///   - coalescing: the shortest interval between two wake-ups of the scheduler's thread.
    ///     A timer due sooner than that after the last wake-up waits for the next one, so dense
    ///     timers share wake-ups. Zero wakes for every distinct deadline.
    ///   - spin: how long before each deadline to wake and spin on the clock instead
    ///   of sleeping. Zero (the default) sleeps in the kernel until the deadline. A spin of
    ///   about 50 µs cuts lateness to a few microseconds but burns up to that much CPU per
    ///   wake-up (with a 1 ms periodic timer, about 5 % of a core).
    /// - Throws: `Errno` if the kernel queue cannot be created.
    public init(coalescing: Duration = .microseconds(100), spin: Duration = .zero) throws(Errno) {
        let queue = try KQueue()
        try queue.kevent(changes: [
            KEvent(ident: Self.eventIdent, filter: .user, flags: [.add, .clear])
        ])
        let core = TimerCore(now: KQueueClock.nanosecondsNow(), wake: { Self.wake(queue) })
        let loop = Loop(
            core: core,
            queue: queue,
            coalescing: max(coalescing.nanosecondsSaturating, 0),
            spin: max(spin.nanosecondsSaturating, 0)
        )
        self.core = core
        self.queue = queue
        self.thread = SchedulerThread { loop.run() }
    }

    deinit {
        shutdown()
    }

    /// The current instant of the scheduler's clock.
    public var now: KQueueClock.Instant {
        KQueueClock.Instant(nanoseconds: KQueueClock.nanosecondsNow())
    }

    /// Runs `body` on the scheduler's thread at `deadline` (at once if it has passed).
    ///
    /// - Returns: a handle to cancel the timer.
    /// - Complexity: O(1).
    @discardableResult
    public func schedule(at deadline: KQueueClock.Instant, _ body: @escaping @Sendable () -> Void) -> TimerHandle {
        core.schedule(at: deadline.nanoseconds, .closure(body))
    }

    /// Runs `body` every `period`, on the fixed grid start + k·period (it never drifts).
    ///
    /// - Parameters:
    ///   - period: the interval between ticks; must be positive.
    ///   - start: the grid's origin; the first tick is one period after it. Defaults to now.
    ///   - missedTicks: what to do when the timer falls behind; every policy reports the
    ///     ticks it skipped in ``TimerTick/missed``.
    ///   - body: called on the scheduler's thread with each tick.
    /// - Returns: a handle; cancelling it stops the ticks.
    @discardableResult
    public func schedule(
        every period: Duration,
        startingAt start: KQueueClock.Instant? = nil,
        missedTicks: MissedTickPolicy = .skip,
        _ body: @escaping @Sendable (TimerTick<KQueueClock.Instant>) -> Void
    ) -> TimerHandle {
        core.schedule(every: period, startingAt: start ?? now, missedTicks: missedTicks, body)
    }

    /// Moves a pending one-shot timer to a new deadline.
    ///
    /// - Returns: false if the timer already fired or was cancelled, or is periodic (nothing
    ///   changes).
    /// - Complexity: O(1).
    @discardableResult
    public func reschedule(_ timer: TimerHandle, to deadline: KQueueClock.Instant) -> Bool {
        core.reschedule(timer, to: deadline.nanoseconds)
    }

    /// The number of pending timers (a periodic timer counts as one).
    public var pendingCount: Int {
        core.pendingCount
    }

    /// Stops the scheduler: every pending timer is cancelled (sleeping tasks resume with
    /// `CancellationError`), the thread ends and the kernel queue is closed. Scheduling
    /// afterwards does nothing. Safe to call more than once and from a callback.
    public func shutdown() {
        let first = core.timers.withLock { timers -> Bool in
            defer { timers.isShutDown = true }
            return !timers.isShutDown
        }
        if first { Self.wake(queue) }
        thread.join()
    }
}

extension TimerScheduler {
    /// The scheduler's thread: fire what is due, run the callbacks, re-arm the one kernel
    /// timer, sleep.
    private final class Loop: Sendable {
        let core: TimerCore
        let queue: KQueue
        let coalescing: Int64
        let spin: Int64

        init(core: TimerCore, queue: KQueue, coalescing: Int64, spin: Int64) {
            self.coalescing = coalescing
            self.core = core
            self.queue = queue
            self.spin = spin
        }

        func run() {
            var firings: [Firing] = []
            var events = [KEvent](repeating: KEvent(), count: 4)
            var changes: [KEvent] = []
            /// The deadline of the EVFILT_TIMER armed in the kernel, nil when none is.
            var armed: Int64?
            /// When timers last fired: the next wake-up comes no sooner than `coalescing` after it.
            var lastFired = Int64.min

            while true {
                let now = KQueueClock.nanosecondsNow()
                // Dense deadlines share a wake-up: none sooner than `coalescing` after the last.
                let earliest = lastFired.addingSaturating(coalescing)
                let step = core.timers.withLock { timers -> (next: Int64?, cancelled: [any TimerAction]?) in
                    if timers.isShutDown { return (nil, timers.removeAll()) }
                    timers.isWakeRequested = false
                    if now >= earliest { timers.advance(to: now, into: &firings) }
                    let next = timers.wheel.nextDeadline
                    // While callbacks run the loop comes straight back here: no wake-up needed.
                    timers.wakeDeadline = firings.isEmpty ? max(next ?? .max, earliest) : .min
                    return (next, nil)
                }
                if let cancelled = step.cancelled {
                    for action in cancelled { action.cancel() }
                    queue.close()
                    return
                }
                if !firings.isEmpty {
                    lastFired = now
                    for firing in firings { firing.run() }
                    firings.removeAll(keepingCapacity: true)
                    continue
                }

                changes.removeAll(keepingCapacity: true)
                if let next = step.next {
                    let due = max(next, earliest)
                    if spin > 0 && due.distanceSaturating(to: now) > -spin {
                        // Within the spin window: wait on the clock, not in the kernel.
                        while KQueueClock.nanosecondsNow() < due {}
                        continue
                    }
                    let wake = due - spin
                    if wake != armed {
                        let delay = max(KQueueClock.nanosecondsNow().distanceSaturating(to: wake), 1)
                        changes.append(
                            KEvent(
                                ident: TimerScheduler.eventIdent,
                                filter: .timer,
                                flags: [.add, .oneshot],
                                fflags: .nseconds,
                                data: Int(delay)
                            )
                        )
                        armed = wake
                    }
                }
                let count: Int
                do {
                    count = try queue.kevent(changes: changes, events: &events, timeout: nil)
                } catch .interrupted {
                    continue
                } catch {
                    preconditionFailure("TimerScheduler: kevent failed: \(error)")
                }
                for event in events[..<count] where event.filter == .timer {
                    armed = nil
                }
            }
        }
    }
}
