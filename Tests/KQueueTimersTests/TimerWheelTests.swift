import KQueueTimers
import Testing

/// A timer as `advance(to:_:)` hands it out.
private struct Fired: Equatable, CustomStringConvertible {
    var id: TimerID
    var deadline: Int64
    var payload: Int

    var description: String { "\(payload)@\(deadline)" }
}

/// Advances the wheel and returns what fired, checking the wheel afterwards.
private func advance(_ wheel: inout TimerWheel<Int>, to now: Int64) -> [Fired] {
    var fired: [Fired] = []
    let count = wheel.advance(to: now) { id, deadline, payload in
        fired.append(Fired(id: id, deadline: deadline, payload: payload))
    }
    #expect(count == fired.count)
    wheel._checkInvariants()
    return fired
}

/// The first instant of the slot of `level` that contains `instant`, plus `slots`
/// slots: the instants where level `level` rolls over.
private func levelBoundary(near instant: Int64, tick: Int64, level: Int, slots: Int64) -> Int64? {
    // Slot boundaries are multiples of tick * 64^level on the Int64 timeline.
    let (unit, overflow) = tick.multipliedReportingOverflow(by: Int64(1) << min(62, 6 * level))
    guard !overflow, 6 * level <= 62 else { return nil }
    let base = instant >= 0 ? instant / unit * unit : -((-(instant + 1)) / unit + 1) * unit
    let (boundary, overflowed) = unit.multipliedReportingOverflow(by: slots)
    guard !overflowed else { return nil }
    let (result, overflowedAgain) = base.addingReportingOverflow(boundary)
    return overflowedAgain ? nil : result
}

@Suite("TimerWheel")
struct TimerWheelTests {
    // MARK: - Identity

    @Test("a stale id after a fire never touches the timer that reuses its entry")
    func staleIDAfterFire() {
        var wheel = TimerWheel<Int>(tick: 1 << 10, now: 0)
        let first = wheel.schedule(at: 5_000, 1)
        #expect(advance(&wheel, to: 5_000) == [Fired(id: first, deadline: 5_000, payload: 1)])

        let second = wheel.schedule(at: 9_000, 2)
        #expect(second.index == first.index, "the lowest free entry is reused")
        #expect(second.generation != first.generation)
        #expect(wheel.cancel(first) == nil)
        #expect(wheel.reschedule(first, to: 1) == false)
        #expect(wheel.contains(first) == false)
        #expect(wheel.deadline(of: first) == nil)
        #expect(wheel.deadline(of: second) == 9_000)
        #expect(wheel.count == 1)
        wheel._checkInvariants()
        #expect(advance(&wheel, to: 9_000) == [Fired(id: second, deadline: 9_000, payload: 2)])
    }

    @Test("a stale id after a cancel never touches the timer that reuses its entry")
    func staleIDAfterCancel() {
        var wheel = TimerWheel<Int>(tick: 1 << 10, now: 0)
        let first = wheel.schedule(at: 5_000, 1)
        #expect(wheel.cancel(first) == 1)
        #expect(wheel.cancel(first) == nil, "a second cancel finds nothing")

        let second = wheel.schedule(at: 7_000, 2)
        #expect(second.index == first.index)
        #expect(wheel.cancel(first) == nil)
        #expect(wheel.reschedule(first, to: 1) == false)
        #expect(wheel.deadline(of: second) == 7_000)
        #expect(advance(&wheel, to: 6_999).isEmpty)
        #expect(advance(&wheel, to: 7_000) == [Fired(id: second, deadline: 7_000, payload: 2)])
        #expect(wheel.cancel(second) == nil, "a fired timer cannot be cancelled")
    }

    @Test("an id from beyond the slab is stale")
    func foreignID() {
        var wheel = TimerWheel<Int>()
        _ = wheel.schedule(at: 1, 1)
        let foreign = TimerID(index: 1_000_000, generation: 0)
        #expect(wheel.cancel(foreign) == nil)
        #expect(wheel.reschedule(foreign, to: 5) == false)
        #expect(wheel.contains(foreign) == false)
        #expect(wheel.count == 1)
    }

    // MARK: - Order

    @Test("equal deadlines fire first-in first-out, whatever level each came from")
    func equalDeadlinesFIFO() {
        let tick: Int64 = 1 << 10
        let deadline = tick * 64 * 64 * 5 + 17  // on level 2 when scheduled from 0
        var wheel = TimerWheel<Int>(tick: tick, now: 0)
        var expected: [Int] = []
        for payload in 0..<20 {
            _ = wheel.schedule(at: deadline, payload)
            expected.append(payload)
        }
        // Closer to the deadline, new timers land on lower levels than the first ones.
        #expect(advance(&wheel, to: deadline - tick * 100).isEmpty)
        for payload in 20..<30 {
            _ = wheel.schedule(at: deadline, payload)
            expected.append(payload)
        }
        #expect(advance(&wheel, to: deadline - 3).isEmpty)
        // A rescheduled timer counts as scheduled now: it moves to the end.
        let moved = wheel.schedule(at: deadline + 1_000, 30)
        _ = wheel.schedule(at: deadline, 31)
        #expect(wheel.reschedule(moved, to: deadline) == true)
        expected += [31, 30]
        let fired = advance(&wheel, to: deadline)
        #expect(fired.map(\.payload) == expected)
        #expect(fired.allSatisfy { $0.deadline == deadline })
    }

    @Test("timers fire in deadline order within a tick and across ticks")
    func deadlineOrder() {
        let tick: Int64 = 1 << 20
        var wheel = TimerWheel<Int>(tick: tick, now: 0)
        let deadlines: [Int64] = [tick * 3 + 9, tick * 3 + 1, 5, tick * 70, 4, tick * 3 + 5, tick * 5000]
        for (payload, deadline) in deadlines.enumerated() {
            _ = wheel.schedule(at: deadline, payload)
        }
        let fired = advance(&wheel, to: .max)
        #expect(fired.map(\.deadline) == deadlines.sorted())
    }

    // MARK: - Time

    @Test("a deadline in the past fires at the next advance, even to the same instant")
    func pastDeadline() {
        var wheel = TimerWheel<Int>(tick: 1 << 20, now: 5_000_000_000)
        _ = wheel.schedule(at: 4_000_000_000, 1)
        _ = wheel.schedule(at: .min, 0)
        _ = wheel.schedule(at: 5_000_000_000, 3)
        _ = wheel.schedule(at: 4_999_999_999, 2)
        _ = wheel.schedule(at: 5_000_000_001, 4)
        #expect(wheel.nextDeadline == .min, "already due")
        let fired = advance(&wheel, to: 5_000_000_000)
        #expect(fired.map(\.payload) == [0, 1, 2, 3])
        #expect(advance(&wheel, to: 5_000_000_001).map(\.payload) == [4])
    }

    @Test("a timer never fires early, even within its tick")
    func neverEarlyWithinTick() {
        let tick: Int64 = 1 << 20
        let base = tick * 1_000 + 100
        var wheel = TimerWheel<Int>(tick: tick, now: base - 1)
        for offset in stride(from: 0, to: 200, by: 2) {
            _ = wheel.schedule(at: base + Int64(offset), offset)
        }
        for now in base - 1..<base + 200 {
            let fired = advance(&wheel, to: now)
            let offset = Int(now - base)
            #expect(fired.map(\.payload) == (offset >= 0 && offset % 2 == 0 ? [offset] : []))
        }
        #expect(wheel.isEmpty == true)
    }

    @Test("advancing backwards does nothing")
    func advanceBackwards() {
        var wheel = TimerWheel<Int>(tick: 1 << 10, now: 1_000_000)
        _ = wheel.schedule(at: 999_000, 1)
        _ = wheel.schedule(at: 1_000_010, 2)
        #expect(advance(&wheel, to: 999_999).isEmpty)
        #expect(advance(&wheel, to: .min).isEmpty)
        #expect(wheel.now == 1_000_000)
        #expect(wheel.count == 2)
        #expect(advance(&wheel, to: 1_000_000).map(\.payload) == [1])
        #expect(advance(&wheel, to: 1_000_010).map(\.payload) == [2])
    }

    @Test("a jump of centuries fires everything in order, in few steps", arguments: [Int64(1), 1 << 20])
    func hugeJump(tick: Int64) {
        let second: Int64 = 1_000_000_000
        let year = 365 * 24 * 3600 * second
        var wheel = TimerWheel<Int>(tick: tick, now: 0)
        let deadlines: [Int64] = [.max, second, 100 * year, year, .max - 1, 3, .max, 200 * year + 1]
        for (payload, deadline) in deadlines.enumerated() {
            _ = wheel.schedule(at: deadline, payload)
        }
        // With a 1 ns tick, stepping tick by tick to Int64.max would never end.
        let fired = advance(&wheel, to: .max)
        #expect(fired.map(\.deadline) == deadlines.sorted())
        #expect(fired.filter { $0.deadline == .max }.map(\.payload) == [0, 6])
        #expect(wheel.isEmpty == true)
        #expect(wheel.nextDeadline == nil)
        #expect(advance(&wheel, to: .max).isEmpty)
    }

    @Test("timers work on a negative timeline and at both ends of Int64")
    func extremes() {
        var wheel = TimerWheel<Int>(tick: 1 << 20, now: .min)
        let deadlines: [Int64] = [.min, .min + 1, -(1 << 40), -1, 0, 1, .max]
        for (payload, deadline) in deadlines.enumerated().reversed() {
            _ = wheel.schedule(at: deadline, payload)
        }
        for (payload, deadline) in deadlines.enumerated() {
            #expect(wheel.nextDeadline.map { $0 <= deadline } == true)
            #expect(advance(&wheel, to: deadline).map(\.payload) == [payload])
        }
        #expect(wheel.isEmpty == true)
    }

    // MARK: - Next deadline

    @Test("nextDeadline is the exact earliest deadline when it is in level 0")
    func nextDeadlineExactInLevelZero() {
        let tick: Int64 = 1 << 20
        var random = SeededRandom(seed: 7)
        var wheel = TimerWheel<Int>(tick: tick, now: 0)
        #expect(wheel.nextDeadline == nil)
        for round in 0..<200 {
            // Deadlines within the 64-tick window of now sit in level 0.
            let now = wheel.now
            let windowEnd = (now / (64 * tick) + 1) * 64 * tick
            guard windowEnd - now >= 2 else {
                #expect(advance(&wheel, to: windowEnd).isEmpty)
                continue
            }
            let deadline = now + 1 + Int64(random.below(UInt64(windowEnd - now - 1)))
            let id = wheel.schedule(at: deadline, round)
            #expect(wheel._level(of: id) == 0)
            #expect(wheel.nextDeadline == deadline)
            #expect(advance(&wheel, to: deadline - 1).isEmpty)
            #expect(advance(&wheel, to: deadline).map(\.id) == [id])
        }
    }

    @Test("nextDeadline is never later than the earliest deadline, and the owner's loop fires all in order")
    func nextDeadlineNeverLate() {
        for seed: UInt64 in 0..<20 {
            var random = SeededRandom(seed: seed)
            let tick = Int64(1) << [0, 10, 20, 30][Int(seed % 4)]
            var wheel = TimerWheel<Int>(tick: tick, now: 0)
            var deadlines: [Int64] = []
            for payload in 0..<100 {
                let magnitude = random.below(62) + 1
                let deadline = Int64(random.below(1 << magnitude))
                deadlines.append(deadline)
                _ = wheel.schedule(at: deadline, payload)
            }
            deadlines.sort()
            var fired: [Int64] = []
            var wakeups = 0
            while let next = wheel.nextDeadline {
                let earliest = deadlines[fired.count]
                #expect(next <= earliest, "seed \(seed): next deadline \(next) after the earliest \(earliest)")
                let target = max(next, wheel.now)
                fired += advance(&wheel, to: target).map(\.deadline)
                wakeups += 1
                #expect(wakeups <= 100 * wheel._levelCount + 1, "seed \(seed): the owner's loop does not progress")
                if wakeups > 100 * wheel._levelCount + 1 { break }
            }
            #expect(fired == deadlines, "seed \(seed)")
        }
    }

    // MARK: - Cascade

    @Test(
        "timers at every level's rollover fire exactly on time",
        arguments: [Int64(1), 1 << 10, 1 << 20, 1 << 40]
    )
    func rollovers(tick: Int64) {
        let levels = TimerWheel<Int>(tick: tick)._levelCount
        for level in 0..<levels {
            for slots: Int64 in [1, 2, 63, 64] {
                for origin: Int64 in [0, 1 << 40, -(1 << 40)] {
                    guard let boundary = levelBoundary(near: origin, tick: tick, level: level, slots: slots) else {
                        continue
                    }
                    for startOffset: Int64 in [0, 1, tick, tick + 1] {
                        let start = origin.clampedAdding(startOffset)
                        checkRollover(tick: tick, start: start, boundary: boundary)
                    }
                }
            }
        }
    }

    private func checkRollover(tick: Int64, start: Int64, boundary: Int64) {
        var wheel = TimerWheel<Int>(tick: tick, now: start)
        let offsets: [Int64] = [-tick - 1, -tick, -1, 0, 1, tick - 1, tick, tick + 1]
        var deadlines: [Int64] = []
        for (payload, offset) in offsets.enumerated() {
            let deadline = boundary.clampedAdding(offset)
            guard deadline > start, !deadlines.contains(deadline) else { continue }
            deadlines.append(deadline)
            _ = wheel.schedule(at: deadline, payload)
        }
        deadlines.sort()
        for deadline in deadlines {
            let next = wheel.nextDeadline ?? .max
            #expect(next <= deadline, "start \(start), boundary \(boundary): late next deadline")
            #expect(advance(&wheel, to: deadline - 1).allSatisfy { $0.deadline < deadline })
            let fired = advance(&wheel, to: deadline)
            #expect(fired.map(\.deadline) == [deadline], "start \(start), boundary \(boundary)")
        }
        #expect(wheel.isEmpty == true)
    }

    // MARK: - Bookkeeping

    @Test("count, isEmpty, contains and deadline(of:) follow the pending timers")
    func bookkeeping() {
        var wheel = TimerWheel<Int>(tick: 1 << 10, now: 0)
        #expect(wheel.isEmpty && wheel.count == 0)
        let a = wheel.schedule(at: 10_000, 1)
        let b = wheel.schedule(at: 20_000, 2)
        let c = wheel.schedule(at: 30_000, 3)
        #expect(wheel.count == 3 && !wheel.isEmpty)
        #expect(wheel.contains(a) && wheel.contains(b) && wheel.contains(c))
        #expect(wheel.deadline(of: b) == 20_000)
        #expect(wheel.reschedule(b, to: 5_000) == true)
        #expect(wheel.deadline(of: b) == 5_000)
        #expect(wheel.cancel(c) == 3)
        #expect(wheel.count == 2 && !wheel.contains(c))
        #expect(advance(&wheel, to: 10_000).map(\.payload) == [2, 1])
        #expect(wheel.isEmpty && wheel.count == 0)
        #expect(wheel.now == 10_000)
        #expect(wheel.tick == 1 << 10)
    }

    @Test("the slab is reused: it never grows past the peak number of pending timers")
    func slabReuse() {
        var random = SeededRandom(seed: 3)
        var wheel = TimerWheel<Int>(tick: 1 << 10, now: 0)
        wheel.reserveCapacity(64)
        #expect(wheel.capacity == 64)
        var live: [TimerID] = []
        for step in 0..<5_000 {
            if live.count < 64 && random.chance(1, in: 2) {
                let deadline = wheel.now + Int64(random.below(100_000))
                live.append(wheel.schedule(at: deadline, step))
            } else if !live.isEmpty {
                let id = live.remove(at: Int(random.below(UInt64(live.count))))
                _ = wheel.cancel(id)
            }
            if step % 100 == 0 {
                let target = wheel.now + 1_000
                let fired = Set(advance(&wheel, to: target).map(\.id))
                live.removeAll { fired.contains($0) }
            }
        }
        #expect(wheel.capacity == 64)
        wheel._checkInvariants()
    }

    @Test("payloads are released when their timer fires or is cancelled, and with the wheel")
    func payloadLifetimes() {
        final class Token {}
        weak var fired: Token?
        weak var cancelled: Token?
        weak var dropped: Token?
        do {
            var wheel = TimerWheel<Token>(tick: 1 << 10, now: 0)
            do {
                let a = Token(), b = Token(), c = Token()
                fired = a
                cancelled = b
                dropped = c
                _ = wheel.schedule(at: 100, a)
                let id = wheel.schedule(at: 200, b)
                _ = wheel.schedule(at: 1 << 40, c)
                _ = wheel.cancel(id)
            }
            #expect(cancelled == nil)
            #expect(fired != nil)
            _ = wheel.advance(to: 100) { _, _, _ in }
            #expect(fired == nil)
            #expect(dropped != nil)
            wheel._checkInvariants()
        }
        #expect(dropped == nil)
    }

    @Test("a timer takes 40 bytes with an Int or object payload, 48 with a closure or the scheduler's work")
    func entrySize() {
        #expect(TimerWheel<Int>._bytesPerEntry == 40)
        #expect(TimerWheel<@Sendable () -> Void>._bytesPerEntry == 48)
        #expect(TimerWheel<AnyObject>._bytesPerEntry == 40)
        // The scheduler's payload: a closure or an object, 17 bytes with its tag.
        enum Work {
            case closure(@Sendable () -> Void)
            case object(AnyObject)
        }
        #expect(MemoryLayout<Work>.size == 17)
        #expect(TimerWheel<Work>._bytesPerEntry == 48)
    }

    @Test("the tick must be a power of two")
    func tickPrecondition() async {
        await #expect(processExitsWith: .failure) {
            _ = TimerWheel<Int>(tick: 3)
        }
    }
}
