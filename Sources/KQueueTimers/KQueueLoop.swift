import KQueue
import Synchronization
import SystemPackage

/// An event loop: one thread that owns one `KQueue` and one ``TimerWheel``, and runs the
/// jobs, tasks, actors and timers given to it, one at a time.
///
/// Code on the loop's thread schedules and cancels timers with no lock and no atomic
/// read-modify-write, as in libev or a current-thread tokio runtime; other threads reach the
/// loop through a lock held only to append to its inbox, and wake it at most once per batch.
/// With nothing to do the loop sleeps in the kernel, until its next timer (within the
/// timers' tolerances) or a wake-up: no polling, no periodic tick.
///
/// It is a `SerialExecutor` and a `TaskExecutor`, so tasks and actors run their code on it:
///
/// ```swift
/// let loop = try KQueueLoop()
/// let task = Task(executorPreference: loop) {
///     try await loop.sleep(for: .milliseconds(10))   // no thread hop: the wheel is right here
///     return loop.isCurrent                          // true
/// }
/// ```
///
/// Each turn of the loop takes the messages other threads sent, runs the jobs that are
/// ready, runs the timers that are due (in deadline order, first-in first-out among equal
/// deadlines, never early), then sleeps in `kevent` until the next wake-up.
public final class KQueueLoop: @unchecked Sendable {
    // @unchecked: all state is in `core` (atomics, a locked inbox, and loop-confined state
    // reached only on the loop's thread) and `thread`.

    /// The process-wide loop, created on first use; ``KQueueClock`` sleeps on it by default.
    public static let shared: KQueueLoop = {
        do {
            return try KQueueLoop()
        } catch {
            fatalError("KQueueLoop.shared: cannot start the loop: \(error)")
        }
    }()

    let core: LoopCore
    private let thread = LoopThread()

    /// Creates a loop and starts its thread.
    ///
    /// - Parameters:
    ///   - tolerance: the tolerance of timers scheduled without one: how late past its
    ///     deadline the loop may run such a timer so that dense deadlines share a wake-up.
    ///     A lone timer is not delayed (see ``schedule(at:tolerance:_:)``). Zero wakes for
    ///     every distinct deadline.
    ///   - spin: how long before each wake-up to stop sleeping in the kernel and spin on the
    ///     clock instead. Zero (the default) sleeps until the deadline. About 50 µs cuts
    ///     lateness to a few microseconds, at the price of up to that much CPU per wake-up. A
    ///     spinning loop still notices new messages and ``shutdown()``.
    /// - Throws: `Errno` if the kernel queue or the thread cannot be created.
    public init(tolerance: Duration = .microseconds(100), spin: Duration = .zero) throws(Errno) {
        let queue = try KQueue()
        do {
            try queue.kevent(changes: [
                KEvent(ident: LoopInbox.wakeIdent, filter: .user, flags: [.add, .clear])
            ])
        } catch {
            queue.close()
            throw error
        }
        core = LoopCore(
            queue: queue,
            defaultToleranceClass: ToleranceClasses.of(tolerance.nanosecondsSaturating),
            spin: max(spin.nanosecondsRoundedUp, 0)
        )
        core.loop = self
        do {
            try thread.start { [core] in core.run() }
        } catch {
            queue.close()
            throw error
        }
    }

    deinit {
        shutdown()
    }

    /// Whether the caller runs on the loop's thread.
    public var isCurrent: Bool {
        core.isCurrent
    }

    /// The current instant of the loop's clock (``KQueueClock``).
    public var now: KQueueClock.Instant {
        KQueueClock.Instant(nanoseconds: TimerClock.now())
    }

    /// Runs `body` on the loop's thread. Jobs run in the order they were submitted from any
    /// one thread; a job submitted on the loop runs after the jobs already waiting.
    ///
    /// - Returns: false if the loop has shut down (the job is dropped).
    /// - Complexity: O(1). From another thread, a lock held only to append the job, and at
    ///   most one wake-up of the loop per batch.
    @discardableResult
    public func execute(_ body: @escaping @Sendable () -> Void) -> Bool {
        core.submit(.closure(body))
    }

    /// Stops the loop: every pending timer is cancelled (sleeping tasks resume with
    /// `CancellationError`, and run to their next suspension on the loop), later jobs are
    /// refused, the thread ends and the kernel queue is closed. No timer callback starts
    /// after this returns.
    ///
    /// Safe to call more than once, from any thread and from the loop itself; from another
    /// thread it returns once the loop's thread has ended.
    public func shutdown() {
        core.requestStop()
        if !thread.isCurrent { thread.join() }
    }
}

/// The part of a loop that its handles, its thread and other threads share. It is immortal
/// (a ``TimerOwner``): handles refer to it without a reference count.
final class LoopCore: TimerOwner, @unchecked Sendable {
    // @unchecked: `state`'s memory is reached only on the loop's thread, while it runs
    // (`isCurrent`), and initialized only then;
    // `loop` is set once before the thread starts; the rest is atomic or locked.
    let inbox: LoopInbox
    let board = TimerBoard()
    /// The loop's identity as a serial executor (set once, in `init`).
    private(set) var serialExecutor: LoopSerialExecutor!
    let queue: KQueue
    let defaultToleranceClass: UInt8
    let spin: Int64
    unowned(unsafe) var loop: KQueueLoop?
    private let threadID = Atomic<UInt>(0)
    private let stopRequested = Atomic<Bool>(false)
    /// The loop's own state: initialized while its thread runs, and reached only there. The
    /// memory (a few words) stays with the immortal core; what the state holds (the wheel, the
    /// jobs) is freed when the thread ends.
    let state = UnsafeMutablePointer<LoopState>.allocate(capacity: 1)
    /// The signals the loop's queue watches for ``SignalDeliveries`` sequences.
    let signalWatches = Locked<[CInt: SignalWatch]>([:])

    init(queue: KQueue, defaultToleranceClass: UInt8, spin: Int64) {
        self.queue = queue
        self.inbox = LoopInbox(queue: queue)
        self.defaultToleranceClass = defaultToleranceClass
        self.spin = spin
        super.init()
        serialExecutor = LoopSerialExecutor(core: self)
    }

    @inline(__always)
    var isCurrent: Bool {
        threadID.load(ordering: .relaxed) == currentThreadID()
    }

    var isStopRequested: Bool {
        stopRequested.load(ordering: .acquiring)
    }

    func requestStop() {
        if !stopRequested.exchange(true, ordering: .acquiringAndReleasing) { inbox.wake() }
    }

    /// Runs a job on the loop: at once into the ready list on the loop's thread, through the
    /// inbox from another.
    ///
    /// - Returns: false if the loop no longer takes jobs.
    @inline(__always)
    func submit(_ job: consuming LoopJob) -> Bool {
        if isCurrent {
            state.pointee.ready.append(job)
            return true
        }
        return inbox.send(.job(job))
    }

    // MARK: The loop's thread

    /// The loop's thread: turns until a stop is requested, then stops.
    func run() {
        state.initialize(to: LoopState(now: TimerClock.now(), board: board))
        threadID.store(currentThreadID(), ordering: .releasing)
        // The loop chooses its wake-ups within its timers' tolerances: the kernel adds none.
        TimerSlack.makePrecise()
        defer {
            threadID.store(0, ordering: .releasing)
            state.deinitialize(count: 1)
            queue.close()
        }
        let turn = Turn(core: self, state: state)
        while !isStopRequested {
            turn.run()
        }
        turn.stop()
    }

    /// The working set of the loop's thread, reused from turn to turn. (A class, touched only by the
    /// loop's thread, so that its buffers are mutated through a reference rather than through an
    /// `inout self`.)
    private final class Turn {
        let core: LoopCore
        let state: UnsafeMutablePointer<LoopState>
        let serialExecutor: UnownedSerialExecutor
        let taskExecutor: UnownedTaskExecutor
        var incoming: [LoopMessage] = []
        var running: [LoopJob] = []
        var firings: [Firing] = []
        /// What the kernel returns; always room for an EV_ERROR entry per change, and more.
        var events = [KEvent](repeating: KEvent(), count: 256)
        /// How many events a `kevent` call may return, beyond the changes' error entries.
        var eventRoom = 256
        static let maximumEventRoom = 16_384
        /// Turns in a row that ended with jobs still ready: the kernel is polled every 64th.
        var busyTurns = 0

        init(core: LoopCore, state: UnsafeMutablePointer<LoopState>) {
            self.core = core
            self.state = state
            guard let loop = core.loop else { preconditionFailure("KQueueLoop: the loop runs before it exists") }
            serialExecutor = loop.asUnownedSerialExecutor()
            taskExecutor = loop.asUnownedTaskExecutor()
        }

        /// Messages, then jobs, then timers, then a wait in the kernel.
        func run() {
            takeMessages()
            runJobs()
            runTimers()
            if core.isStopRequested { return }
            if !state.pointee.ready.isEmpty {
                pollWhileBusy()
                return
            }
            guard let wake = state.pointee.timers.nextWake else {
                busyTurns = 0
                wait(timeout: nil)
                return
            }
            let now = TimerClock.now()
            guard wake > now else {
                // Timers came due meanwhile: the loop is busy with them.
                pollWhileBusy()
                return
            }
            busyTurns = 0
            if core.spin > 0 && now.distanceSaturating(to: wake) <= core.spin {
                if !state.pointee.events.changes.isEmpty { wait(timeout: 0) }
                spin(until: wake)
            } else {
                wait(timeout: now.distanceSaturating(to: wake) - core.spin)
            }
        }

        /// A turn with more work ready (jobs, or timers due) does not sleep, but the kernel is
        /// not left out: changes for waiting tasks go to it at once, and its events are polled
        /// every 64th busy turn, so I/O is served while jobs or timers keep coming.
        func pollWhileBusy() {
            busyTurns &+= 1
            if busyTurns & 63 == 0 || !state.pointee.events.changes.isEmpty { wait(timeout: 0) }
        }

        // Messages and jobs move out of their lists (see `drain`), never copied: a job's
        // closure was made on another thread, and every copy would retain and release it on a
        // cache line that thread wrote.

        func takeMessages() {
            core.inbox.take(into: &incoming)
            drain(&incoming, placeholder: .job(.closure(noJob))) { state.pointee.handle($0) }
        }

        /// Runs the jobs ready at the start; jobs they submit run in the next turn.
        func runJobs() {
            swap(&running, &state.pointee.ready)
            drain(&running, placeholder: .closure(noJob)) { job in
                switch job {
                case .closure(let body): body()
                case .task(let job): job.runSynchronously(on: taskExecutor)
                case .actor(let job): job.runSynchronously(on: serialExecutor)
                }
            }
        }

        func runTimers() {
            let state = self.state
            guard state.pointee.timers.collectDue(now: TimerClock.now(), into: &firings) > 0 else { return }
            for index in firings.indices {
                // No callback starts once shutdown() was called; sleepers among the rest end.
                guard !core.isStopRequested else {
                    for firing in firings[index...] { firing.abandon() }
                    break
                }
                firings[index].run()
            }
            firings.removeAll(keepingCapacity: true)
        }

        /// Gives the kernel the changes of waiting tasks, and sleeps until an event, a wake-up or
        /// `timeout` nanoseconds (nil: no limit); returns at once if messages arrived. The events
        /// resume the tasks waiting for them.
        func wait(timeout: Int64?) {
            // With messages waiting the turn ends here; the changes go with the next turn's wait.
            guard timeout == 0 || core.inbox.prepareToSleep() else { return }
            let changes = state.pointee.events.changes.count
            defer { core.inbox.awake() }
            // Room for an error entry per change, and for the events: what the kernel has
            // ready beyond the room stays for the next call, which (emulated) looks at each
            // descriptor again, so the room doubles whenever a call fills it.
            if events.count < changes + eventRoom {
                events = [KEvent](repeating: KEvent(), count: changes + eventRoom)
            }
            let count: Int
            do {
                count = try core.queue.kevent(
                    changes: state.pointee.events.changes, events: &events, timeout: timeout.map { .nanoseconds($0) })
            } catch .interrupted {
                count = 0  // a signal ended the wait
            } catch {
                preconditionFailure("KQueueLoop: kevent failed: \(error)")
            }
            if count == events.count && eventRoom < Self.maximumEventRoom { eventRoom *= 2 }
            // Applied, also when a signal interrupted the wait.
            state.pointee.events.changes.removeAll(keepingCapacity: true)
            for event in events[..<count] {
                if LoopEvents.names(event.udata) {
                    state.pointee.events.deliver(event)
                } else if event.filter == .signal {
                    SignalWatch.deliver(event)
                } else if LoopDescriptor.names(event) {
                    LoopDescriptor.deliver(event)
                }
            }
            // Their knotes' deletions went with this call, and its events are delivered.
            if !state.pointee.descriptors.retiring.isEmpty { state.pointee.descriptors.retiring.removeAll() }
        }

        /// Spins on the clock until `deadline`, a message or a stop.
        func spin(until deadline: Int64) {
            while TimerClock.now() < deadline {
                if core.isStopRequested || core.inbox.hasMessages { return }
            }
        }

        /// The loop stops: refuse later messages, abandon every timer, run the jobs left
        /// (tasks whose sleep was cancelled run to their next suspension).
        func stop() {
            state.pointee.isStopping = true
            for message in core.inbox.close() { state.pointee.handle(message) }
            for work in state.pointee.timers.removeAll() { work.abandon() }
            for waiter in state.pointee.events.removeAll() { waiter.fail(CancellationError()) }
            state.pointee.descriptors.abandonAll()
            core.finishSignals()
            while !state.pointee.ready.isEmpty {
                runJobs()
            }
        }
    }

    // MARK: TimerOwner

    override func cancel(_ timer: TimerHandle.Kind) -> Bool {
        switch timer {
        case .local(let id):
            if isCurrent { return state.pointee.timers.cancel(id) }
            guard board.cancel(id) else { return false }
            _ = inbox.send(.removeLocal(id))
            return true
        case .remote(let remote):
            guard remote.settle() else { return false }
            if isCurrent {
                state.pointee.timers.remove(remote)
            } else {
                _ = inbox.send(.remove(remote))
            }
            return true
        case .periodic(let periodic):
            guard periodic.markCancelled() else { return false }
            if isCurrent {
                state.pointee.timers.remove(periodic)
            } else {
                _ = inbox.send(.removePeriodic(periodic))
            }
            return true
        }
    }

    override func isPending(_ timer: TimerHandle.Kind) -> Bool {
        switch timer {
        case .local(let id): board.isPending(id)
        case .remote(let remote): remote.isPending
        case .periodic(let periodic): !periodic.isCancelled
        }
    }
}

/// What only the loop's thread touches: its timers and its ready jobs.
struct LoopState: ~Copyable {
    var timers: LoopTimers
    var ready: [LoopJob] = []
    /// The kernel events tasks wait for, and the changes for the next `kevent` call.
    var events = LoopEvents()
    /// The descriptors registered for good (``LoopDescriptor``).
    var descriptors = LoopDescriptors()
    /// The loop is stopping: timers scheduled now are abandoned at once.
    var isStopping = false

    init(now: Int64, board: TimerBoard) {
        timers = LoopTimers(now: now, board: board)
    }

    /// Carries out a message from another thread.
    mutating func handle(_ message: consuming LoopMessage) {
        switch consume message {
        case .job(let job):
            ready.append(job)
        case .schedule(let timer):
            if isStopping {
                timer.abandon()
            } else {
                timers.insert(timer)
            }
        case .remove(let timer):
            timers.remove(timer)
        case .removeLocal(let id):
            timers.remove(id)
        case .moveLocal(let id, let deadline):
            _ = timers.reschedule(id, to: deadline)
        case .moveRemote(let timer, let deadline):
            _ = timers.reschedule(timer, to: deadline)
        case .startPeriodic(let timer):
            if isStopping {
                _ = timer.markCancelled()
            } else {
                timers.start(timer)
            }
        case .removePeriodic(let timer):
            timers.remove(timer)
        }
    }
}

/// A job that does nothing and captures nothing: what `drain` leaves behind.
private let noJob: @Sendable () -> Void = {}

/// Moves the elements out of `list` into `body`, in order, leaving `placeholder` in each place
/// (a value with nothing to release), then empties the list and keeps its storage. No element is
/// copied, so none is retained or released on the way.
@inline(__always)
private func drain<Element>(_ list: inout [Element], placeholder: Element, _ body: (consuming Element) -> Void) {
    list.withUnsafeMutableBufferPointer { buffer in
        guard let base = buffer.baseAddress else { return }
        for index in 0..<buffer.count {
            let element = (base + index).move()
            (base + index).initialize(to: placeholder)
            body(element)
        }
    }
    list.removeAll(keepingCapacity: true)
}
