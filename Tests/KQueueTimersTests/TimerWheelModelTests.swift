import KQueueTimers
import Testing

/// Random operations on a ``TimerWheel``, each checked against ``ReferenceWheel``.
@Suite("TimerWheel against a reference model")
struct TimerWheelModelTests {
    /// Seeds per batch × operations per seed × batches = 1,000,000 operations.
    static let seedsPerBatch: UInt64 = 10
    static let operationsPerSeed = 5_000
    static let batches = 0..<20

    @Test("random operations match the reference model", arguments: batches)
    func randomOperations(batch: Int) async {
        let firstSeed = UInt64(batch) * Self.seedsPerBatch
        for seed in firstSeed..<firstSeed + Self.seedsPerBatch {
            // Let other tests' tasks run between seeds: the pool has one thread per core.
            await Task.yield()
            var run = ModelRun(seed: seed)
            if let failure = run.run(operations: Self.operationsPerSeed) {
                Issue.record("seed \(seed): \(failure)")
                return
            }
        }
    }
}

/// One seeded run: a wheel, its model, and the random choices between them.
private struct ModelRun: ~Copyable {
    let seed: UInt64
    var random: SeededRandom
    let tick: Int64
    var wheel: TimerWheel<UInt64>
    var model: ReferenceWheel
    /// Identifiers of timers that fired or were cancelled, the most recent last.
    var stale: [TimerID] = []
    var nextPayload: UInt64 = 0

    init(seed: UInt64) {
        self.seed = seed
        var random = SeededRandom(seed: seed)
        let shifts = [0, 1, 10, 20, 20, 20, 30, 45, 62]
        let tick = Int64(1) << shifts[Int(random.below(UInt64(shifts.count)))]
        let starts: [Int64] = [
            0, 1, -1, .min, .min + 1, .max - (1 << 56),
            tick <= 1 << 40 ? tick * 64 * 64 - 1 : .max / 2, tick <= 1 << 40 ? -(tick * 64) : .min / 2,
            Int64(bitPattern: random.next()) >> Int64(random.below(40)),
        ]
        let start = starts[Int(random.below(UInt64(starts.count)))]
        self.random = random
        self.tick = tick
        self.wheel = TimerWheel(tick: tick, now: start)
        self.model = ReferenceWheel(now: start)
    }

    /// Runs `operations` random operations; returns the first mismatch.
    mutating func run(operations: Int) -> String? {
        for step in 0..<operations {
            if let failure = perform(kind: random.below(100)) {
                return "step \(step), tick \(tick), now \(model.now): \(failure)"
            }
            if wheel.count != model.count {
                return "step \(step): count \(wheel.count), expected \(model.count)"
            }
            if let failure = checkNextDeadline() {
                return "step \(step): \(failure)"
            }
            if step % 64 == 63 {
                wheel._checkInvariants()
            }
        }
        // Everything left fires, in order, at the end of time.
        if let failure = advance(to: .max) { return "final advance: \(failure)" }
        wheel._checkInvariants()
        return wheel.isEmpty ? nil : "timers left after advancing to Int64.max"
    }

    private mutating func perform(kind: UInt64) -> String? {
        // Keep the number of pending timers bounded: above 300, only remove.
        let kind = model.count > 300 && kind < 45 ? 45 + kind % 55 : kind
        switch kind {
        case 0..<45:
            schedule()
        case 45..<52:
            return cancelPending()
        case 52..<56:
            return useStale()
        case 56..<63:
            return reschedulePending()
        case 63..<66:
            return query()
        default:
            return advance(to: randomAdvanceTarget())
        }
        return nil
    }

    // MARK: Operations

    private mutating func schedule() {
        let deadline = randomDeadline()
        let payload = nextPayload
        nextPayload += 1
        let id = wheel.schedule(at: deadline, payload)
        model.schedule(id, at: deadline, payload: payload)
    }

    private mutating func cancelPending() -> String? {
        guard let timer = randomPending() else { return nil }
        let payload = wheel.cancel(timer.id)
        _ = model.cancel(timer.id)
        remember(timer.id)
        return payload == timer.payload ? nil : "cancel(\(timer.id)) returned \(String(describing: payload))"
    }

    private mutating func reschedulePending() -> String? {
        guard let timer = randomPending() else { return nil }
        let deadline = randomDeadline()
        let moved = wheel.reschedule(timer.id, to: deadline)
        _ = model.reschedule(timer.id, to: deadline)
        return moved ? nil : "reschedule(\(timer.id)) failed"
    }

    private mutating func useStale() -> String? {
        guard !stale.isEmpty else { return nil }
        let id = stale[Int(random.below(UInt64(stale.count)))]
        if wheel.contains(id) { return "stale \(id) is pending" }
        if wheel.deadline(of: id) != nil { return "stale \(id) has a deadline" }
        if random.chance(1, in: 2) {
            if let payload = wheel.cancel(id) { return "cancel(stale \(id)) returned \(payload)" }
        } else {
            if wheel.reschedule(id, to: randomDeadline()) { return "reschedule(stale \(id)) succeeded" }
        }
        return nil
    }

    private mutating func query() -> String? {
        guard let timer = randomPending() else { return nil }
        if !wheel.contains(timer.id) { return "\(timer.id) is not pending" }
        if wheel.deadline(of: timer.id) != timer.deadline {
            return "deadline(of: \(timer.id)) is \(String(describing: wheel.deadline(of: timer.id)))"
        }
        return nil
    }

    private mutating func advance(to target: Int64) -> String? {
        let before = wheel.now
        var fired: [ReferenceWheel.Timer] = []
        let count = wheel.advance(to: target) { id, deadline, payload in
            fired.append(ReferenceWheel.Timer(id: id, deadline: deadline, sequence: 0, payload: payload))
        }
        let expected = model.advance(to: target)
        for timer in fired { remember(timer.id) }
        if let early = fired.first(where: { $0.deadline > target }) {
            return "advance(to: \(target)) fired \(early) early"
        }
        let matches =
            count == fired.count && fired.count == expected.count
            && zip(fired, expected).allSatisfy {
                $0.id == $1.id && $0.deadline == $1.deadline && $0.payload == $1.payload
            }
        if !matches {
            return "advance(to: \(target)) fired \(fired.prefix(8)), expected \(expected.prefix(8))"
        }
        if wheel.now != max(before, target) { return "now is \(wheel.now) after advance(to: \(target))" }
        return nil
    }

    private func checkNextDeadline() -> String? {
        let next = wheel.nextDeadline
        guard let earliest = model.earliest else {
            return next == nil ? nil : "nextDeadline \(String(describing: next)) with no timer"
        }
        guard let next else { return "no nextDeadline, expected at most \(earliest.deadline)" }
        if next > earliest.deadline { return "nextDeadline \(next) later than \(earliest)" }
        if wheel._level(of: earliest.id) == 0 && next != earliest.deadline {
            return "nextDeadline \(next) is not exact for \(earliest) in level 0"
        }
        return nil
    }

    // MARK: Random choices

    private mutating func randomPending() -> ReferenceWheel.Timer? {
        guard !model.pending.isEmpty else { return nil }
        return model.pending[Int(random.below(UInt64(model.pending.count)))]
    }

    private mutating func remember(_ id: TimerID) {
        if stale.count == 64 { stale.removeFirst() }
        stale.append(id)
    }

    /// A magnitude of 2^0 ... 2^`maximumBits`, spread over the exponents.
    private mutating func randomSpan(maximumBits: UInt64 = 62) -> Int64 {
        let bits = random.below(maximumBits + 1)
        return Int64(random.below(1 << bits))
    }

    private mutating func randomDeadline() -> Int64 {
        let now = model.now
        switch random.below(100) {
        case 0..<8:  // in the past
            return now.clampedSubtracting(randomSpan())
        case 8..<12:
            return now
        case 12..<22:  // within the current tick, or the next
            return now.clampedAdding(Int64(random.below(UInt64(min(tick, 1 << 61)) * 2)))
        case 22..<42:  // levels 0 and 1
            return now.clampedAdding(Int64(random.below(UInt64(min(tick, 1 << 40)) * 64 * 64)))
        case 42..<52:  // levels 2 and 3
            return now.clampedAdding(Int64(random.below(UInt64(min(tick, 1 << 30)) << 24)))
        case 52..<60:  // anywhere ahead, years included
            return now.clampedAdding(randomSpan())
        case 60..<63:  // the end of time
            return .max - Int64(random.below(3))
        case 63..<80:  // equal to a pending deadline
            return randomPending()?.deadline ?? now
        case 80..<95:  // next to a level's rollover
            return randomBoundary() ?? now
        default:  // a few nanoseconds around now
            return now.clampedAdding(Int64(random.below(7)) - 3)
        }
    }

    private mutating func randomAdvanceTarget() -> Int64 {
        let now = model.now
        // Jumps to deadlines stay within this horizon, so time does not rush to
        // Int64.max; rare huge jumps go further.
        let horizon = now.clampedAdding(min(tick, 1 << 30) << 20)
        switch random.below(100) {
        case 0..<30:  // small steps
            return now.clampedAdding(Int64(random.below(UInt64(min(tick, 1 << 60)) * 3)))
        case 30..<35:
            return now
        case 35..<50:  // exactly to a deadline, or just before it
            guard let timer = random.chance(1, in: 2) ? model.earliest : randomPending() else { return now }
            let target = random.chance(1, in: 3) ? timer.deadline.clampedSubtracting(1) : timer.deadline
            return min(target, horizon)
        case 50..<60:  // where the owner would arm its kernel timer
            return min(wheel.nextDeadline ?? now, horizon)
        case 60..<70:  // across a rollover
            return min(randomBoundary() ?? now, horizon)
        case 70..<90:  // across a few slots of levels 0 to 3
            let span = min(tick, 1 << 30) << (6 * random.below(4))
            return now.clampedAdding(Int64(random.below(UInt64(span) * 3)))
        case 90:  // a huge jump: up to a year or so
            return now.clampedAdding(randomSpan(maximumBits: 55))
        case 91..<96:  // backwards: nothing happens
            return now.clampedSubtracting(randomSpan(maximumBits: 40) + 1)
        default:  // a few nanoseconds
            return now.clampedAdding(Int64(random.below(4)))
        }
    }

    /// An instant near the start of one of the next slots of a random level.
    private mutating func randomBoundary() -> Int64? {
        let level = Int(random.below(UInt64(wheel._levelCount)))
        let bits = 6 * level + tick.trailingZeroBitCount
        guard bits < 63 else { return nil }
        let unit = Int64(1) << bits
        let now = model.now
        let base = now >= 0 ? now / unit * unit : -((-(now + 1)) / unit + 1) * unit
        let slots = Int64(random.below(3))
        let (offset, overflow) = unit.multipliedReportingOverflow(by: slots)
        guard !overflow else { return nil }
        return base.clampedAdding(offset).clampedAdding(Int64(random.below(3)) - 1)
    }
}
