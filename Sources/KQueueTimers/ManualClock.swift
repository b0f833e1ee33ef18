import KQueue
import Synchronization

/// A clock whose time moves only when a test says so, and an executor that runs only when the
/// test says so: virtual time for deterministic tests of code that uses timers and tasks.
///
/// It has the scheduling API of ``KQueueLoop`` (``TimerScheduling``) and is a `Clock`, so
/// `Task.sleep(for:clock:)` works on it. It is also a `SerialExecutor` and a `TaskExecutor`:
/// a task started with `Task(executorPreference: clock)` (or an actor on the clock) runs only
/// inside ``advance(by:)``, ``advance(to:)`` and ``run()``, on the calling thread.
///
/// ``advance(to:)`` runs every ready job until none is left, then moves time to the next
/// deadline, runs the timers due there (in deadline order, equal deadlines first-in first-out;
/// while a callback runs, ``now`` is its deadline) with the jobs they make ready, and so on up
/// to the target. So no test needs to yield or poll:
///
/// ```swift
/// let clock = ManualClock()
/// let task = Task(executorPreference: clock) {
///     try await clock.sleep(for: .seconds(3600))
///     return "woke"
/// }
/// clock.advance(by: .seconds(3600))   // the task ran, slept an hour and finished
/// let value = try await task.value   // "woke"
/// ```
///
/// A task that awaits work on another executor comes back to the clock's queue when that
/// work is done; the next `advance` or `run` continues it.
///
/// Calls that run the clock (`advance`, `run`) from inside one of its callbacks or jobs
/// continue the same run, in order: what was already due runs first, then time moves on.
/// Calls from two threads at once take turns.
public final class ManualClock: Clock, TimerScheduling, @unchecked Sendable {
    // @unchecked: all state is in `core`, behind its locks.

    /// A moment of virtual time: nanoseconds since the clock's origin.
    public struct Instant: TimerInstant, Hashable, CustomStringConvertible {
        /// Nanoseconds since the clock's origin.
        public var nanoseconds: Int64

        /// The instant `nanoseconds` after the clock's origin.
        public init(nanoseconds: Int64) {
            self.nanoseconds = nanoseconds
        }

        /// Seconds since the clock's origin, with nine decimals: `"5.000000000 s"`.
        public var description: String {
            KQueueClock.Instant.format(nanoseconds)
        }
    }

    let core: ClockCore

    /// A clock that starts at `now`.
    public init(now: Instant = Instant(nanoseconds: 0)) {
        core = ClockCore(now: now.nanoseconds)
        core.clock = self
    }

    deinit {
        core.close()
    }

    /// The current virtual instant.
    public var now: Instant {
        Instant(nanoseconds: core.state.withLock { $0.wheel.now })
    }

    /// One nanosecond: timers fire at their exact deadline.
    public var minimumResolution: Duration {
        .nanoseconds(1)
    }

    /// Runs `body` at `deadline`, exactly (the tolerance is accepted for the API's sake; virtual
    /// time has no wake-ups to share).
    @discardableResult
    public func schedule(
        at deadline: Instant,
        tolerance: Duration? = nil,
        _ body: @escaping @Sendable () -> Void
    ) -> TimerHandle {
        core.schedule(at: deadline.nanoseconds, .closure(body))
    }

    /// Runs `body` every `period` on the grid start + k·period, each tick exactly on it.
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
            toleranceClass: 0,
            missedTicks: missedTicks,
            body
        )
        return core.start(timer)
    }

    /// Moves a pending one-shot timer; false if it already fired or was cancelled, is periodic,
    /// or belongs to another clock or loop.
    @discardableResult
    public func reschedule(_ timer: TimerHandle, to deadline: Instant) -> Bool {
        core.reschedule(timer, to: deadline.nanoseconds)
    }

    /// The number of pending timers, sleeping tasks included.
    public var pendingCount: Int {
        core.state.withLock { $0.wheel.count }
    }

    /// Suspends the task until the clock reaches `deadline`.
    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try await Sleeper.sleep { [core] sleeper in
            core.schedule(at: deadline.nanoseconds, .sleeper(sleeper))
        }
    }

    /// Moves time forward by `duration`, running every job and timer due on the way.
    public func advance(by duration: Duration) {
        core.drain(until: now.advanced(by: duration).nanoseconds)
    }

    /// Moves time forward to `target`, running every job and every timer due on the way, in
    /// order; jobs and timers that those schedule run too if they are due by `target`. Time
    /// never goes backwards: a target in the past moves no time, but still runs the jobs and
    /// the timers that are already due.
    public func advance(to target: Instant) {
        core.drain(until: target.nanoseconds)
    }

    /// Runs every ready job, and every timer already due, until none is left, without moving
    /// time.
    public func run() {
        core.drain(until: nil)
    }

    /// Whether the caller is running the clock (inside ``advance(to:)`` or ``run()``).
    public var isCurrent: Bool {
        core.isCurrent
    }
}

extension ManualClock: SerialExecutor, TaskExecutor {
    /// Queues a job of a task that prefers the clock; it runs in the next ``advance(to:)`` or
    /// ``run()``. (Actors' jobs come through the serial identity that
    /// ``asUnownedSerialExecutor()`` names, as for ``KQueueLoop``.)
    public func enqueue(_ job: consuming ExecutorJob) {
        core.enqueue(.task(UnownedJob(job)))
    }

    /// The clock as the executor of an actor: an actor whose `unownedExecutor` returns it runs
    /// its methods only inside ``advance(to:)`` or ``run()``.
    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: core)
    }

    /// The clock as a task executor, the preference that `Task(executorPreference: clock)`
    /// records: the task runs only inside ``advance(to:)`` or ``run()``.
    public func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }

    /// Stops the program unless the caller is running the clock.
    public func checkIsolated() {
        precondition(isCurrent, "ManualClock: expected to run inside advance(to:) or run()")
    }

    /// Whether the caller is running the clock.
    public func isIsolatingCurrentContext() -> Bool? {
        isCurrent
    }
}

/// A manual clock's state, shared by the clock and the handles of its timers (immortal, see
/// ``TimerOwner``).
final class ClockCore: TimerOwner, @unchecked Sendable {
    // @unchecked: `state` is behind its lock; `turn` serializes runs of the clock.
    struct State: ~Copyable {
        var wheel: TimerWheel<TimerWork>
        /// Timers taken off the wheel, not yet run.
        var firings = Queue<Firing>()
        /// Jobs of tasks and actors on the clock, not yet run.
        var jobs = Queue<LoopJob>()

        init(now: Int64) {
            wheel = TimerWheel(now: now)
        }
    }

    /// A first-in first-out list that reuses its storage.
    struct Queue<Element> {
        private var elements: [Element] = []
        private var head = 0

        mutating func append(_ element: Element) {
            elements.append(element)
        }

        mutating func popFirst() -> Element? {
            guard head < elements.count else { return nil }
            let element = elements[head]
            head += 1
            if head == elements.count {
                elements.removeAll(keepingCapacity: true)
                head = 0
            }
            return element
        }

        mutating func removeAll() {
            elements = []
            head = 0
        }
    }

    let state: Locked<State>
    /// The clock, the executor its jobs run on; set once, and only used while someone runs
    /// the clock (and so holds it).
    unowned(unsafe) var clock: ManualClock?
    /// Held by the thread that runs the clock.
    private let turn = Locked(())
    private let runner = Atomic<UInt>(0)

    init(now: Int64) {
        state = Locked(State(now: now))
    }

    var isCurrent: Bool {
        runner.load(ordering: .relaxed) == currentThreadID()
    }

    /// The clock is gone: its timers are dropped (handles then name no timer).
    func close() {
        state.withLock { state in
            state.wheel.advance(to: .max) { _, _, _ in }
            state.firings.removeAll()
            state.jobs.removeAll()
        }
    }

    func schedule(at deadline: Int64, _ work: TimerWork) -> TimerHandle {
        let id = state.withLock { $0.wheel.schedule(at: deadline, work) }
        return TimerHandle(owner: self, kind: .local(id))
    }

    func start(_ timer: PeriodicTimer) -> TimerHandle {
        state.withLock { state in
            if let next = timer.grid.nextDeadline {
                timer.timer = state.wheel.schedule(at: next, .periodic(timer))
            } else {
                _ = timer.markCancelled()
            }
        }
        return TimerHandle(owner: self, kind: .periodic(timer))
    }

    func reschedule(_ handle: TimerHandle, to deadline: Int64) -> Bool {
        guard handle.belongs(to: self), case .local(let id) = handle.kind else { return false }
        return state.withLock { $0.wheel.reschedule(id, to: deadline) }
    }

    func enqueue(_ job: LoopJob) {
        state.withLock { $0.jobs.append(job) }
    }

    override func cancel(_ timer: TimerHandle.Kind) -> Bool {
        switch timer {
        case .local(let id):
            return state.withLock { $0.wheel.cancel(id) } != nil
        case .periodic(let periodic):
            guard periodic.markCancelled() else { return false }
            state.withLock { _ = $0.wheel.cancel(periodic.timer) }
            return true
        case .remote:
            return false
        }
    }

    override func isPending(_ timer: TimerHandle.Kind) -> Bool {
        switch timer {
        case .local(let id): state.withLock { $0.wheel.contains(id) }
        case .periodic(let periodic): !periodic.isCancelled
        case .remote: false
        }
    }

    private enum Step {
        case job(LoopJob)
        case firing(Firing)
        case timersTaken
        case idle
    }

    /// Runs the clock: ready jobs first, then the timers already taken, then the next
    /// deadline up to `target` (nil: no time moves), until nothing is left to do.
    func drain(until target: Int64?) {
        if isCurrent {
            drainSteps(until: target)
            return
        }
        turn.withLock { _ in
            runner.store(currentThreadID(), ordering: .relaxed)
            defer { runner.store(0, ordering: .relaxed) }
            drainSteps(until: target)
        }
    }

    private func drainSteps(until target: Int64?) {
        guard let clock else { return }
        let serial = clock.asUnownedSerialExecutor()
        let task = clock.asUnownedTaskExecutor()
        while true {
            switch nextStep(until: target) {
            case .job(.closure(let body)): body()
            case .job(.task(let job)): job.runSynchronously(on: task)
            case .job(.actor(let job)): job.runSynchronously(on: serial)
            case .firing(let firing): firing.run()
            case .timersTaken: continue
            case .idle: return
            }
        }
    }

    private func nextStep(until target: Int64?) -> Step {
        state.withLock { state -> Step in
            if let job = state.jobs.popFirst() { return .job(job) }
            if let firing = state.firings.popFirst() { return .firing(firing) }
            let now = state.wheel.now
            let limit = max(target ?? now, now)
            guard let next = state.wheel.nextDeadline, next <= limit else {
                // Nothing is due by the target: time moves there.
                state.wheel.advance(to: limit) { _, _, _ in }
                return .idle
            }
            // One deadline at a time, so callbacks see `now` at their own deadline.
            let instant = max(next, now)
            var taken: [(Int64, TimerWork)] = []
            state.wheel.advance(to: instant) { _, deadline, work in taken.append((deadline, work)) }
            for (_, work) in taken {
                switch work {
                case .periodic(let periodic):
                    guard !periodic.isCancelled else { continue }
                    let (deadline, missed) = periodic.grid.advance(now: instant)
                    if let next = periodic.grid.nextDeadline {
                        periodic.timer = state.wheel.schedule(at: next, .periodic(periodic))
                        state.firings.append(.tick(periodic, deadline: deadline, missed: missed, isLast: false))
                    } else {
                        _ = periodic.markCancelled()
                        state.firings.append(.tick(periodic, deadline: deadline, missed: missed, isLast: true))
                    }
                default:
                    state.firings.append(.once(work))
                }
            }
            return .timersTaken
        }
    }
}

/// The identity under which actors isolated to a ``ManualClock`` run (what
/// `clock.asUnownedSerialExecutor()` names): their jobs run inside the clock's runs, isolated
/// to it.
extension ClockCore: SerialExecutor {
    func enqueue(_ job: consuming ExecutorJob) {
        enqueue(.actor(UnownedJob(job)))
    }

    func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    func checkIsolated() {
        precondition(isCurrent, "ManualClock: expected to run inside advance(to:) or run()")
    }

    func isIsolatingCurrentContext() -> Bool? {
        isCurrent
    }
}
