/// What a timer does when it fires.
///
/// A timer's work travels with it: from ``KQueueLoop/schedule(at:tolerance:_:)`` (or a manual
/// clock's) into the wheel as its payload, and out of the wheel when it is due, to be run by
/// the loop's thread (or by the clock's `advance`).
enum TimerWork {
    /// A plain callback.
    case closure(@Sendable () -> Void)
    /// A task sleeping until the deadline.
    case sleeper(Sleeper)
    /// The next tick of a periodic timer.
    case periodic(PeriodicTimer)
    /// A one-shot timer scheduled from another thread: its work and state are in the object.
    case remote(RemoteTimer)
    /// A job of a task handed to the loop for later (a `SchedulingExecutor`'s delayed job):
    /// when due it joins the loop's ready jobs.
    case job(UnownedJob, LoopCore)

    /// Tells the work that it will never run: a sleeping task resumes with
    /// `CancellationError`, a periodic timer ends.
    func abandon() {
        switch self {
        case .closure: break
        case .sleeper(let sleeper): sleeper.cancel()
        case .periodic(let timer): _ = timer.markCancelled()
        case .remote(let timer): timer.abandon()
        // The loop stops: the job runs elsewhere rather than never, so its task goes on.
        case .job(let job, _): globalConcurrentExecutor.enqueue(job)
        }
    }
}

/// A due timer, taken from the wheel and about to run.
enum Firing {
    /// A one-shot timer's work.
    case once(TimerWork)
    /// A periodic timer's tick, with its grid deadline and the ticks it skipped; `isLast`
    /// when the timer has no next tick (it would lie beyond the end of time).
    case tick(PeriodicTimer, deadline: Int64, missed: Int, isLast: Bool)

    /// Tells the work that it will not run after all (the loop stopped before it started).
    func abandon() {
        if case .once(let work) = self { work.abandon() }
    }

    /// Runs the timer's work on the calling thread.
    func run() {
        switch self {
        case .once(let work):
            switch work {
            case .closure(let body): body()
            case .sleeper(let sleeper): sleeper.fire()
            case .remote(let timer): timer.run()
            case .job(let job, let core): if !core.submit(.task(job)) { globalConcurrentExecutor.enqueue(job) }
            case .periodic: preconditionFailure("a periodic timer fires as a tick")
            }
        case .tick(let timer, let deadline, let missed, let isLast):
            // A tick taken before a cancel() returned true must not start after it.
            if isLast || !timer.isCancelled { timer.body(deadline, missed) }
        }
    }
}
