/// The loop as a Swift executor: tasks that prefer it (`Task(executorPreference: loop)`) and
/// actors whose `unownedExecutor` is the loop's run their code on the loop's thread, between
/// its other jobs and its timers.
///
/// The two roles have two identities. As a `TaskExecutor` the loop is itself; as a
/// `SerialExecutor` its unowned form names the loop's `LoopSerialExecutor`. So the loop knows
/// which role each job came for: a task's job runs with no isolation (its nonisolated async
/// calls, such as ``KQueueLoop/sleep(until:tolerance:)``, then stay on the loop without being
/// enqueued again), an actor's job runs isolated to the loop.
///
/// ```swift
/// actor Connection {
///     let loop: KQueueLoop
///     nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }
///     init(loop: KQueueLoop) { self.loop = loop }
/// }
/// ```
extension KQueueLoop: SerialExecutor, TaskExecutor {
    /// Runs a job of a task that prefers the loop on the loop's thread. (Actors' jobs come
    /// through the serial identity that ``asUnownedSerialExecutor()`` names.)
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
        core.serialExecutor.asUnownedSerialExecutor()
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

/// The identity under which actors isolated to a ``KQueueLoop`` run: what
/// `loop.asUnownedSerialExecutor()` names. Its jobs run on the loop's thread, isolated to it.
final class LoopSerialExecutor: SerialExecutor, Sendable {
    let core: LoopCore

    init(core: LoopCore) {
        self.core = core
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        // A loop that has stopped: the job runs elsewhere rather than never.
        if !core.submit(.actor(job)) { globalConcurrentExecutor.enqueue(job) }
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    func checkIsolated() {
        precondition(core.isCurrent, "KQueueLoop: expected to run on the loop's thread")
    }

    func isIsolatingCurrentContext() -> Bool? {
        core.isCurrent
    }
}
