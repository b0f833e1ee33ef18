/// The loop as a Swift executor: tasks that prefer it (`Task(executorPreference: loop)`) and
/// actors whose `unownedExecutor` is the loop's run their code on the loop's thread, between
/// its other jobs and its timers.
///
/// ```swift
/// actor Connection {
///     let loop: KQueueLoop
///     nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }
///     init(loop: KQueueLoop) { self.loop = loop }
/// }
/// ```
extension KQueueLoop: SerialExecutor, TaskExecutor {
    /// Runs a job of a task or an actor on the loop's thread.
    ///
    /// After ``shutdown()`` the job goes to the global concurrent executor instead, so that
    /// a task still waiting on the loop finishes rather than hangs.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if !core.submit(.task(job)) {
            globalConcurrentExecutor.enqueue(job)
        }
    }

    /// The loop as the executor of an actor: return it from the actor's `unownedExecutor`
    /// to run the actor's methods on the loop's thread.
    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// The loop as a task executor, the preference that `Task(executorPreference: loop)`
    /// records: the task, and the child tasks that inherit the preference, run on the loop.
    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }

    /// Stops the program unless the caller runs on the loop's thread.
    public func checkIsolated() {
        precondition(isCurrent, "KQueueLoop: expected to run on the loop's thread")
    }

    /// Whether the caller runs on the loop's thread.
    public func isIsolatingCurrentContext() -> Bool? {
        isCurrent
    }
}
