/// A unit of work for a loop's thread: a closure from ``KQueueLoop/execute(_:)``, or a job of
/// a task or an actor that runs on the loop.
enum LoopJob {
    case closure(@Sendable () -> Void)
    /// A job of a task that prefers the loop (it came through the loop as a `TaskExecutor`):
    /// it runs with no isolation, so the task's nonisolated calls stay where they are.
    case task(UnownedJob)
    /// A job of an actor isolated to the loop (it came through the loop's serial executor).
    case actor(UnownedJob)
}

/// What other threads send a loop's thread through its ``LoopInbox``.
enum LoopMessage {
    /// A job to run.
    case job(LoopJob)
    /// A timer scheduled from another thread, to put on the wheel.
    case schedule(RemoteTimer)
    /// A timer from another thread that a cancel settled: take it off the wheel.
    case remove(RemoteTimer)
    /// A timer of the wheel that a cancel from another thread settled: take it off.
    case removeLocal(TimerID)
    /// Move a timer of the wheel (a reschedule from another thread).
    case moveLocal(TimerID, deadline: Int64)
    /// Move a timer scheduled from another thread (a reschedule).
    case moveRemote(RemoteTimer, deadline: Int64)
    /// A periodic timer started from another thread.
    case startPeriodic(PeriodicTimer)
    /// A periodic timer cancelled from another thread: take its next tick off the wheel.
    case removePeriodic(PeriodicTimer)
}
