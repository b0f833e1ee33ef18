import KQueue

/// A timer on a loop's wheel: its work and its tolerance class.
struct LoopTimer {
    var work: TimerWork
    var toleranceClass: UInt8
}

/// The timers of a ``KQueueLoop``, owned by the loop's thread: the wheel, the board that lets
/// other threads cancel, the tolerances that decide when the loop wakes, and the step that
/// takes the due timers off the wheel.
///
/// Nothing here takes a lock or waits: only the loop's thread touches it (other threads'
/// requests arrive as ``LoopMessage``s).
struct LoopTimers: ~Copyable {
    private(set) var wheel: TimerWheel<LoopTimer>
    let board: TimerBoard
    private let tolerances = ToleranceClasses()
    /// When timers last fired: dense deadlines share a wake-up (see ``nextWake``).
    private var lastFire = Int64.min
    /// A buffer reused by ``collectDue(now:into:)``: where its periodic ticks are.
    private var tickPositions: [Int] = []

    /// The width of the wheel's bottom slots: 2¹⁷ ns, about 131 µs. A wake-up walks the
    /// earliest slot to find what is due and when the next timer is, so slots about as wide as
    /// the default tolerance keep that walk to roughly the timers it fires, even when a
    /// thousand timers fall due each millisecond. (It costs one more level: a timer due in a
    /// minute moves down a level three times instead of two.)
    static let tick: Int64 = 1 << 17

    init(now: Int64, board: TimerBoard) {
        wheel = TimerWheel(tick: Self.tick, now: now)
        self.board = board
    }

    deinit {
        tolerances.deallocate()
    }

    /// The number of pending timers (a periodic timer counts as one).
    var count: Int { wheel.count }

    // MARK: Scheduling

    /// Puts a one-shot timer on the wheel.
    ///
    /// - Complexity: O(1), with no lock and no atomic read-modify-write.
    @inline(__always)
    mutating func schedule(at deadline: Int64, toleranceClass: UInt8, _ work: TimerWork) -> TimerID {
        let id = wheel.schedule(at: deadline, LoopTimer(work: work, toleranceClass: toleranceClass))
        board.arm(id)
        tolerances.add(toleranceClass)
        return id
    }

    /// Cancels a one-shot timer on the loop's own thread.
    ///
    /// - Returns: whether this call kept it from firing.
    @inline(__always)
    mutating func cancel(_ id: TimerID) -> Bool {
        guard let timer = wheel.cancel(id) else { return false }
        board.settleOnLoop(id)
        tolerances.remove(timer.toleranceClass)
        return true
    }

    /// Takes off the wheel a timer whose board word was settled (by a cancel on another thread).
    mutating func remove(_ id: TimerID) {
        if let timer = wheel.cancel(id) { tolerances.remove(timer.toleranceClass) }
    }

    /// Moves a pending one-shot timer; false if it fired or was cancelled.
    mutating func reschedule(_ id: TimerID, to deadline: Int64) -> Bool {
        guard board.isPending(id) else { return false }
        return wheel.reschedule(id, to: deadline)
    }

    /// Puts on the wheel a timer scheduled from another thread, unless it was cancelled on
    /// the way.
    mutating func insert(_ timer: RemoteTimer) {
        guard timer.isPending, case .some = timer.work else {
            timer.work = nil
            return
        }
        timer.timer = wheel.schedule(
            at: timer.deadline,
            LoopTimer(work: .remote(timer), toleranceClass: timer.toleranceClass)
        )
        tolerances.add(timer.toleranceClass)
    }

    /// Moves a timer scheduled from another thread; false if it fired or was cancelled.
    mutating func reschedule(_ timer: RemoteTimer, to deadline: Int64) -> Bool {
        guard timer.isPending, let id = timer.timer else { return false }
        return wheel.reschedule(id, to: deadline)
    }

    /// Takes off the wheel a timer from another thread that a cancel settled.
    mutating func remove(_ timer: RemoteTimer) {
        if let id = timer.timer { remove(id) }
        timer.timer = nil
        timer.work = nil
    }

    /// Puts a periodic timer's next tick on the wheel; a timer whose next tick lies beyond
    /// the end of time ends.
    mutating func start(_ timer: PeriodicTimer) {
        guard !timer.isCancelled else { return }
        guard let next = timer.grid.nextDeadline else {
            _ = timer.markCancelled()
            return
        }
        timer.timer = wheel.schedule(
            at: next,
            LoopTimer(work: .periodic(timer), toleranceClass: timer.toleranceClass)
        )
        tolerances.add(timer.toleranceClass)
    }

    /// Takes a cancelled periodic timer's next tick off the wheel.
    mutating func remove(_ timer: PeriodicTimer) {
        remove(timer.timer)
    }

    // MARK: Waking and firing

    /// When the loop should wake for its timers, or nil if none is pending.
    ///
    /// Every timer may run up to its tolerance after its deadline, never before. The loop
    /// wakes at the earliest deadline, but no sooner than the smallest pending tolerance after
    /// the last time timers fired, and never later than the earliest deadline plus that
    /// tolerance. So a lone timer runs at its deadline, while dense deadlines share wake-ups
    /// spaced by the tolerance; every timer due at a wake-up runs then, and each of them is
    /// late by at most the smallest tolerance, which is at most its own.
    var nextWake: Int64? {
        guard let earliest = wheel.nextDeadline else { return nil }
        let tolerance = tolerances.minimum
        let spaced = max(earliest, lastFire.addingSaturating(tolerance))
        return min(earliest.addingSaturating(tolerance), spaced)
    }

    /// Takes every timer due at `now` off the wheel, in deadline order, and appends what
    /// must run to `firings`: the one-shot timers this call claimed (a cancel from another
    /// thread may have come first) and the periodic ticks, whose next tick goes back on the
    /// wheel.
    ///
    /// - Returns: the number of timers taken.
    mutating func collectDue(now: Int64, into firings: inout [Firing]) -> Int {
        let board = self.board
        let tolerances = self.tolerances
        var tickPositions: [Int] = []
        swap(&tickPositions, &self.tickPositions)
        defer {
            tickPositions.removeAll(keepingCapacity: true)
            swap(&tickPositions, &self.tickPositions)
        }
        // Each timer's work moves from the wheel into `firings` once, in deadline order.
        let taken = wheel.advance(to: now) { id, _, timer in
            tolerances.remove(timer.toleranceClass)
            let work = timer.work
            switch work {
            case .periodic(let periodic):
                guard !periodic.isCancelled else { return }
                // The tick's deadline and missed count are set below, with the grid.
                tickPositions.append(firings.count)
                firings.append(.tick(periodic, deadline: 0, missed: 0, isLast: false))
            case .remote:
                // Its own state decides when it runs.
                firings.append(.once(work))
            case .closure, .sleeper, .job:
                if board.claim(id) { firings.append(.once(work)) }
            }
        }
        guard taken > 0 else { return 0 }
        lastFire = now
        // Periodic timers: pick the tick per policy and put the next one on the wheel.
        for position in tickPositions {
            guard case .tick(let periodic, _, _, _) = firings[position] else { continue }
            let (deadline, missed) = periodic.grid.advance(now: now)
            start(periodic)
            firings[position] = .tick(periodic, deadline: deadline, missed: missed, isLast: periodic.isCancelled)
        }
        return taken
    }

    /// Takes every timer off the wheel (the loop stops) and settles each one's board word.
    ///
    /// - Returns: the work of the timers that will now never run, for the caller to abandon
    ///   (sleeping tasks resume with `CancellationError`).
    mutating func removeAll() -> [TimerWork] {
        var taken: [(TimerID, TimerWork)] = []
        wheel.advance(to: .max) { id, _, timer in taken.append((id, timer.work)) }
        tolerances.removeAll()
        return taken.compactMap { id, work in
            switch work {
            case .closure, .sleeper, .job: board.claim(id) ? work : nil
            case .periodic, .remote: work
            }
        }
    }
}

/// The tolerances of pending timers, by class: class 0 is no tolerance, class k > 0 holds
/// tolerances in [2^(k-1), 2^k) nanoseconds and stands for 2^(k-1), so a class never allows
/// more than the timer asked for. The smallest class with a timer is found in O(1).
///
/// The counts live in memory of their own (65 words: 64 counts and the bitmap of classes in
/// use), so the loop's timers can update them while the wheel is in the middle of an advance.
/// Owned by one ``LoopTimers``, which frees it.
struct ToleranceClasses {
    private let words: UnsafeMutablePointer<Int>

    init() {
        words = .allocate(capacity: 65)
        words.initialize(repeating: 0, count: 65)
    }

    func deallocate() {
        words.deallocate()
    }

    /// The class of a tolerance in nanoseconds.
    static func of(_ nanoseconds: Int64) -> UInt8 {
        nanoseconds <= 0 ? 0 : UInt8(64 - nanoseconds.leadingZeroBitCount)
    }

    /// The tolerance a class stands for, in nanoseconds.
    static func tolerance(ofClass toleranceClass: Int) -> Int64 {
        toleranceClass == 0 ? 0 : 1 << Int64(toleranceClass - 1)
    }

    private var occupied: UInt64 {
        get { UInt64(bitPattern: Int64(words[64])) }
        nonmutating set { words[64] = Int(Int64(bitPattern: newValue)) }
    }

    @inline(__always)
    func add(_ toleranceClass: UInt8) {
        words[Int(toleranceClass)] &+= 1
        occupied |= 1 << UInt64(toleranceClass)
    }

    @inline(__always)
    func remove(_ toleranceClass: UInt8) {
        let index = Int(toleranceClass)
        words[index] &-= 1
        if words[index] == 0 { occupied &= ~(1 << UInt64(toleranceClass)) }
    }

    func removeAll() {
        words.update(repeating: 0, count: 65)
    }

    /// The smallest tolerance among pending timers (0 when none is pending).
    var minimum: Int64 {
        let occupied = self.occupied
        return occupied == 0 ? 0 : Self.tolerance(ofClass: occupied.trailingZeroBitCount)
    }
}
