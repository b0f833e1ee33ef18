import KQueue

/// The clock of ``TimerScheduler``: the kernel clock its EVFILT_TIMER runs on, so an instant
/// read here and a deadline armed in the kernel mean the same moment.
///
/// It is CLOCK_MONOTONIC on Linux and CLOCK_UPTIME_RAW (mach_absolute_time) on Darwin: both
/// stop while the machine is suspended. `Task.sleep(for:clock:)` and ``sleep(until:tolerance:)``
/// run on the scheduler's timing wheel.
public struct KQueueClock: Clock {
    /// A moment on the clock: nanoseconds since an unspecified start (usually boot).
    public struct Instant: TimerInstant, Hashable, CustomStringConvertible {
        public var nanoseconds: Int64

        public init(nanoseconds: Int64) {
            self.nanoseconds = nanoseconds
        }

        public var description: String { "\(nanoseconds) ns" }
    }

    /// The scheduler whose wheel runs this clock's sleeps.
    public let scheduler: TimerScheduler

    /// A clock whose sleeps run on `scheduler` (by default the process-wide one).
    public init(scheduler: TimerScheduler = .shared) {
        self.scheduler = scheduler
    }

    public var now: Instant {
        Instant(nanoseconds: Self.nanosecondsNow())
    }

    /// Timers fire at their exact deadline, not on wheel ticks: the resolution is the kernel's.
    public var minimumResolution: Duration {
        .nanoseconds(1)
    }

    /// Suspends the task until `deadline`; cancelling the task ends the sleep at once (with
    /// `CancellationError`) and frees its timer.
    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try await scheduler.sleep(until: deadline)
    }

    static func nanosecondsNow() -> Int64 {
        TimerClock.now()
    }
}
