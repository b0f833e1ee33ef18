import KQueue

/// The clock of ``KQueueLoop``: the kernel clock its timers run on, so an instant read here
/// and a deadline the loop waits for mean the same moment.
///
/// It is CLOCK_MONOTONIC on Linux and CLOCK_UPTIME_RAW (mach_absolute_time) on Darwin: both
/// stop while the machine is suspended. `Task.sleep(for:clock:)` and ``sleep(until:tolerance:)``
/// run on the loop's timing wheel; a task that runs on the loop sleeps without leaving it.
public struct KQueueClock: Clock {
    /// A moment on the clock: nanoseconds since an unspecified start (usually boot).
    public struct Instant: TimerInstant, Hashable, CustomStringConvertible {
        /// Nanoseconds since the clock's start.
        public var nanoseconds: Int64

        /// The instant `nanoseconds` after the clock's start.
        public init(nanoseconds: Int64) {
            self.nanoseconds = nanoseconds
        }

        /// Seconds since the clock's start (usually boot), with nine decimals: `"12.000250000 s"`.
        public var description: String {
            Self.format(nanoseconds)
        }

        static func format(_ nanoseconds: Int64) -> String {
            let sign = nanoseconds < 0 ? "-" : ""
            let magnitude = nanoseconds.magnitude
            let fraction = String(magnitude % 1_000_000_000)
            let padded = String(repeating: "0", count: 9 - fraction.count) + fraction
            return "\(sign)\(magnitude / 1_000_000_000).\(padded) s"
        }
    }

    /// The loop whose wheel runs this clock's sleeps.
    public let loop: KQueueLoop

    /// A clock whose sleeps run on `loop` (by default the process-wide one).
    public init(loop: KQueueLoop = .shared) {
        self.loop = loop
    }

    /// The current instant.
    public var now: Instant {
        Instant(nanoseconds: TimerClock.now())
    }

    /// Timers fire at their exact deadline, not on wheel ticks: the resolution is the kernel's.
    public var minimumResolution: Duration {
        .nanoseconds(1)
    }

    /// Suspends the task until `deadline`, or up to `tolerance` after it; cancelling the task
    /// ends the sleep at once (with `CancellationError`) and frees its timer.
    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try await loop.sleep(until: deadline, tolerance: tolerance)
    }
}

/// The former name of ``KQueueLoop``, whose timers it was.
@available(*, deprecated, renamed: "KQueueLoop")
public typealias TimerScheduler = KQueueLoop
