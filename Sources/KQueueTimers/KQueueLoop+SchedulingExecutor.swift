#if KQ_EXPERIMENTAL_EXECUTORS
@_spi(ExperimentalCustomExecutors) @_spi(ExperimentalScheduling) import _Concurrency

/// Behind the `ExperimentalExecutors` trait: the loop as a `SchedulingExecutor`, so that a
/// plain `Task.sleep(for:)` on `ContinuousClock` or `SuspendingClock` inside a task on the loop
/// is served by the loop's wheel, and a way to make a loop the process's global executor.
///
/// Both rest on Swift 6.3's `@_spi(ExperimentalScheduling)` and
/// `@_spi(ExperimentalCustomExecutors)` interfaces (SE-0505 and the custom main and global
/// executors proposal), which may change or go away in any Swift release; that is why they are
/// behind a trait.
///
/// What a cancelled sleep costs on this path: Swift 6.3 gives an executor no cancellation hook
/// for a delayed job. A cancelled `Task.sleep` resumes at once, but the job it handed the loop
/// stays on the wheel (one wheel entry and the runtime's small sleep job) until its deadline,
/// when it runs and does nothing. ``KQueueLoop/sleep(until:tolerance:)`` and ``KQueueClock``
/// have no such cost: their cancellation frees the timer at once.
@_spi(ExperimentalScheduling) @available(macOS 26.4, *)
extension KQueueLoop: SchedulingExecutor {
    /// Runs `job` on the loop once `delay` has passed on `clock`, or up to `tolerance` later.
    public func enqueue<C: Clock>(
        _ job: consuming ExecutorJob,
        after delay: C.Duration,
        tolerance: C.Duration?,
        clock: C
    ) {
        enqueue(UnownedJob(job), afterNanoseconds: Self.nanoseconds(delay), tolerance: tolerance.flatMap { $0 as? Duration })
    }

    /// Runs `job` on the loop once `clock` reaches `instant`, or up to `tolerance` later.
    ///
    /// The wait is measured on the loop's clock: the time from `clock.now` to `instant`.
    public func enqueue<C: Clock>(
        _ job: consuming ExecutorJob,
        at instant: C.Instant,
        tolerance: C.Duration?,
        clock: C
    ) {
        let delay = clock.now.duration(to: instant)
        enqueue(UnownedJob(job), afterNanoseconds: Self.nanoseconds(delay), tolerance: tolerance.flatMap { $0 as? Duration })
    }

    /// A tolerance of a clock whose durations are not `Swift.Duration` counts as none given.
    private func enqueue(_ job: UnownedJob, afterNanoseconds delay: Int64, tolerance: Duration?) {
        let deadline = now.advanced(by: .nanoseconds(max(delay, 0))).nanoseconds
        // On a loop that has stopped the timer is abandoned at once, and the job goes to the
        // global executor (see TimerWork.abandon).
        _ = core.schedule(at: deadline, toleranceClass: toleranceClass(tolerance), .job(job, core))
    }

    /// A clock's duration in nanoseconds, rounded up; a clock whose durations are not
    /// `Swift.Duration` counts as no delay.
    private static func nanoseconds<D: DurationProtocol>(_ duration: D) -> Int64 {
        guard let duration = duration as? Duration else { return 0 }
        return duration.nanosecondsRoundedUp
    }
}

/// Behind the `ExperimentalExecutors` trait: the executors a program gets from
/// ``KQueueLoop/installAsGlobalExecutor()``: the platform's main executor, and the shared loop
/// as the default executor of every task.
@_spi(ExperimentalCustomExecutors) @available(macOS 26.4, *)
public enum KQueueLoopExecutorFactory: ExecutorFactory {
    /// The platform's main executor.
    public static var mainExecutor: any MainExecutor {
        PlatformExecutorFactory.mainExecutor
    }

    /// ``KQueueLoop/shared``.
    public static var defaultExecutor: any TaskExecutor {
        KQueueLoop.shared
    }
}

@_spi(ExperimentalCustomExecutors) @available(macOS 26.4, *)
extension KQueueLoop {
    /// Makes ``KQueueLoop/shared`` the process's global executor: every task without another
    /// executor runs on the loop's one thread, and every `Task.sleep` in the program is served
    /// by its wheel.
    ///
    /// Call it first thing in a program's synchronous entry point, before any task is created
    /// (the runtime reads its executors once). A program whose tasks do blocking or long
    /// computations should not: they would all share one thread.
    public static func installAsGlobalExecutor() {
        _createExecutors(factory: KQueueLoopExecutorFactory.self)
    }
}
#endif
