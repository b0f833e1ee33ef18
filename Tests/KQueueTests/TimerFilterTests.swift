import KQueue
import SystemPackage
import TestSupport
import Testing

/// EVFILT_TIMER, darwin profile (KQUEUE.md §5; TimerFilter.swift).
///
/// Timing rules: "never early" is asserted strictly against a start time taken before the
/// kevent call that registers the timer; lateness only with bounds of seconds; expiration
/// counts against bounds derived from the measured elapsed time.
@Suite("EVFILT_TIMER", .blocking)
struct TimerFilterTests {
    /// A periodic timer retrieved `elapsed` after it was (re)armed reports between 1 and
    /// elapsed / period expirations (more than 1 only if the retrieval was late).
    func expectPeriods(
        _ data: Int?, elapsed: Int64, period: Int64, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let data = data ?? 0
        #expect(data >= 1 && data <= Int(elapsed / period), "data \(data) after \(elapsed / 1000) µs", sourceLocation: sourceLocation)
    }

    // MARK: Units

    @Test("data is in milliseconds by default, or in the unit of NOTE_SECONDS / NOTE_USECONDS / NOTE_NSECONDS",
        arguments: [
            (KEvent.FilterFlags(), 120, ms(120)),
            (.seconds, 1, ms(1000)),
            (.useconds, 120_000, ms(120)),
            (.nseconds, 120_000_000, ms(120)),
        ])
    func units(fflags: KEvent.FilterFlags, data: Int, expected: Int64) throws {
        let q = try KQueue()
        let start = now()
        try q.kevent(changes: [timer(1, [.add, .oneshot], fflags: fflags, data: data, udata: 9)])
        let (events, at) = try waitForEvents(q, limit: .seconds(10))
        let event = try #require(events.first)
        #expect(events.count == 1)
        #expect(at - start >= expected)
        #expect(at - start < expected + lateness)
        #expect(event.ident == 1)
        #expect(event.filter == .timer)
        #expect(event.data == 1)
        #expect(event.udata == 9)
        #expect(event.fflags == [])
    }

    @Test("timers of different units fire in the order of their durations")
    func unitOrder() throws {
        let q = try KQueue()
        let start = now()
        try q.kevent(changes: [
            timer(1, [.add, .oneshot], fflags: .seconds, data: 1),  // 1000 ms
            timer(2, [.add, .oneshot], data: 300),  // 300 ms
            timer(3, [.add, .oneshot], fflags: .useconds, data: 100_000),  // 100 ms
            timer(4, [.add, .oneshot], fflags: .nseconds, data: 200_000_000),  // 200 ms
            timer(5, [.add, .oneshot], fflags: .useconds, data: 300),  // 0.3 ms
        ])
        let expected: [UInt: Int64] = [1: ms(1000), 2: ms(300), 3: ms(100), 4: ms(200), 5: 300_000]
        var order: [UInt] = []
        while order.count < 5 {
            let (events, at) = try waitForEvents(q, capacity: 1, limit: .seconds(10))
            let event = try #require(events.first)
            #expect(at - start >= expected[event.ident] ?? .max)
            order.append(event.ident)
        }
        #expect(order == [5, 3, 4, 2, 1])
    }

    @Test("more than one unit bit is EINVAL", arguments: [
        KEvent.FilterFlags([.seconds, .useconds]), [.seconds, .nseconds], [.useconds, .nseconds],
        [.seconds, .useconds, .nseconds], [.seconds, .useconds, .absolute],
    ])
    func twoUnits(fflags: KEvent.FilterFlags) throws {
        let q = try KQueue()
        #expect(try outcome(q, timer(1, fflags: fflags, data: 100)) == .invalidArgument)
        #expect(try !deleteSucceeds(q, ident: 1, filter: .timer))
    }

    @Test("an unknown fflags bit is EINVAL", arguments: [
        UInt32(0x10), 0x20, 0x40, 0x80, 0x100, 0x1000, 0x0100_0000, 0x8000_0000,
    ])
    func unknownFflags(bits: UInt32) throws {
        let q = try KQueue()
        let fflags = KEvent.FilterFlags(rawValue: bits)
        #expect(try outcome(q, timer(1, fflags: fflags, data: 100)) == .invalidArgument)
        #expect(try outcome(q, timer(1, fflags: fflags.union(.seconds), data: 1)) == .invalidArgument)
        #expect(try !deleteSucceeds(q, ident: 1, filter: .timer))
        // The same bit on an existing timer fails the modification only.
        try q.kevent(changes: [timer(2, data: 30, udata: 1)])
        #expect(try outcome(q, timer(2, fflags: fflags, data: 3_600_000, udata: 2)) == .invalidArgument)
        let (events, _) = try waitForEvents(q)
        #expect(events.first?.ident == 2)
        #expect(events.first?.udata == 1)
    }

    // MARK: Periodic timers

    @Test("a periodic timer reports the expirations since the last retrieval (20 ms read after ~210 ms ≈ 10)")
    func missedPeriods() throws {
        let q = try KQueue()
        let before = now()
        try q.kevent(changes: [timer(1, data: 20)])
        let after = now()
        sleep(.milliseconds(210))
        let readStart = now()
        let events = try poll(q)
        let readEnd = now()
        let event = try #require(events.first)
        #expect(events.count == 1)
        // Exactly floor(elapsed / period) on a drift-free grid; elapsed is known within the two calls.
        let low = Int((readStart - after) / ms(20))
        let high = Int((readEnd - before) / ms(20))
        #expect(event.data >= max(low - 1, 1))
        #expect(event.data <= high)
        #expect(event.data >= 10)
        #expect(event.flags.contains(.clear))
        #expect(event.fflags == [])
        // Reading reset the count: the next read reports only the periods since the first read.
        let again = try poll(q)
        let againEnd = now()
        #expect(again.reduce(0) { $0 + $1.data } <= Int((againEnd - readStart) / ms(20)) + 1)
    }

    @Test("no expiration is lost or invented: the sum of data over a long run is elapsed / period")
    func nothingLost() throws {
        let q = try KQueue()
        let period: Int64 = ms(10)
        let before = now()
        try q.kevent(changes: [timer(1, fflags: .useconds, data: Int(period / 1000))])
        let after = now()
        var total = 0
        var retrievals = 0
        // Irregular pauses between reads (some shorter, most longer than the period), then blocking reads.
        let pauses = [3, 27, 41, 7, 13, 55, 2, 19, 33, 11, 64, 5, 23, 17, 9, 38]
        var lastReadEnd = after
        var lastReadStart = after
        for pause in pauses + pauses {
            sleep(.milliseconds(pause))
            lastReadStart = now()
            for event in try poll(q) {
                #expect(event.ident == 1)
                #expect(event.data >= 1)
                total += event.data
                retrievals += 1
            }
            lastReadEnd = now()
        }
        for _ in 0..<10 {
            lastReadStart = now()
            let events = try poll(q, timeout: .seconds(5))
            lastReadEnd = now()
            #expect(events.count == 1)
            total += events.reduce(0) { $0 + $1.data }
        }
        let low = Int((lastReadStart - after) / period)
        let high = Int((lastReadEnd - before) / period)
        #expect(total >= low - 1)
        #expect(total <= high)
        #expect(retrievals >= 10)
    }

    @Test("the period grid does not drift: expirations handled late do not push the next ones back")
    func gridDoesNotDrift() throws {
        let q = try KQueue()
        let period: Int64 = ms(25)
        let before = now()
        try q.kevent(changes: [timer(1, fflags: .nseconds, data: Int(period))])
        let after = now()
        var total = 0
        // Each round waits for an expiration, then reads again 30-45 ms later, after the next grid
        // point has passed: that expiration is handled 5-20 ms late. A timer re-armed from the
        // time it was handled, rather than on its grid, would lose that much every round.
        var lastStart = after
        var lastEnd = after
        for round in 0..<24 {
            let events = try poll(q, timeout: .seconds(5))
            #expect(events.count == 1)
            total += events.reduce(0) { $0 + $1.data }
            sleep(.milliseconds(30 + (round % 4) * 5))
            lastStart = now()
            total += try poll(q).reduce(0) { $0 + $1.data }
            lastEnd = now()
        }
        let low = Int((lastStart - after) / period)
        let high = Int((lastEnd - before) / period)
        #expect(total >= low - 1)
        #expect(total <= high)
    }

    // MARK: Oneshot

    @Test("an EV_ONESHOT timer fires once with data 1, then the knote is gone")
    func oneshot() throws {
        let q = try KQueue()
        let start = now()
        try q.kevent(changes: [timer(1, [.add, .oneshot], fflags: .useconds, data: 40_000, udata: 3)])
        let (events, at) = try waitForEvents(q)
        let event = try #require(events.first)
        #expect(at - start >= ms(40))
        #expect(event.data == 1)
        #expect(event.udata == 3)
        #expect(event.fflags == [])
        #expect(event.flags.isSuperset(of: [.add, .oneshot, .clear]))
        #expect(event.flags.isDisjoint(with: [.error, .eof, .delete]))
        #expect(try poll(q, timeout: .milliseconds(120)).isEmpty)
        #expect(try outcome(q, timer(1, .delete, data: 0)) == .noSuchFileOrDirectory)
    }

    @Test("returned timer events carry EV_CLEAR and the creation flags, and fflags 0")
    func returnedFlags() throws {
        let q = try KQueue()
        try q.kevent(changes: [
            timer(1, [.add], fflags: .useconds, data: 1000),
            timer(2, [.add, .dispatch], fflags: .nseconds, data: 1_000_000),
            timer(3, [.add, .receipt, .oneshot], fflags: .seconds, data: 0),
        ])
        sleep(.milliseconds(20))
        let events = try poll(q)
        #expect(events.count == 3)
        for event in events {
            #expect(event.flags.isSuperset(of: [.add, .clear]))
            #expect(event.flags.isDisjoint(with: [.error, .eof, .delete]))
            #expect(event.fflags == [])
        }
        #expect(events.first { $0.ident == 2 }?.flags.contains(.dispatch) == true)
        #expect(events.first { $0.ident == 3 }?.flags.isSuperset(of: [.receipt, .oneshot]) == true)
        #expect(events.first { $0.ident == 1 }?.flags.isDisjoint(with: [.oneshot, .dispatch, .receipt]) == true)
    }

    // MARK: data 0, negative, huge

    @Test("data 0 fires at once and once; the knote stays", arguments: [
        KEvent.FilterFlags(), .seconds, .useconds, .nseconds,
    ])
    func zeroData(fflags: KEvent.FilterFlags) throws {
        let q = try KQueue()
        let start = now()
        let events = try kevent(q, [timer(1, fflags: fflags, data: 0, udata: 4)], capacity: 4, timeout: .seconds(30))
        #expect(now() - start < lateness)
        #expect(events.count == 1)
        #expect(events.first?.data == 1)
        #expect(events.first?.udata == 4)
        #expect(events.first?.flags.contains(.error) == false)
        #expect(try poll(q, timeout: .milliseconds(100)).isEmpty)
        // Still registered: it can be modified and deleted.
        try q.kevent(changes: [timer(1, fflags: fflags, data: 0, udata: 5)])
        #expect(try poll(q).map(\.udata) == [5])
        #expect(try deleteSucceeds(q, ident: 1, filter: .timer))
    }

    @Test("negative data fires at once and once (darwin)", arguments: [-1, -1000, -(1 << 30)])
    func negativeData(data: Int) throws {
        let q = try KQueue()
        let start = now()
        let events = try kevent(
            q, [timer(1, data: data), timer(2, fflags: .seconds, data: data)], capacity: 4, timeout: .seconds(30))
        #expect(now() - start < lateness)
        #expect(Set(events.map(\.ident)) == [1, 2])
        #expect(events.allSatisfy { $0.data == 1 && !$0.flags.contains(.error) })
        #expect(try poll(q, timeout: .milliseconds(100)).isEmpty)
        #expect(try deleteSucceeds(q, ident: 1, filter: .timer))
        // With EV_ONESHOT it fires once and is gone.
        let once = try kevent(q, [timer(3, [.add, .oneshot], data: data)], capacity: 4, timeout: .seconds(30))
        #expect(once.map(\.ident) == [3])
        #expect(try !deleteSucceeds(q, ident: 3, filter: .timer))
    }

    @Test("a period whose nanoseconds overflow 64 bits is ERANGE, without trapping", arguments: [
        (KEvent.FilterFlags(), Int.max), (.seconds, Int.max), (.useconds, Int.max), (.seconds, Int.max / 1000),
        (.absolute, Int.max), (KEvent.FilterFlags([.absolute, .seconds]), Int.max / 2),
    ])
    func overflow(fflags: KEvent.FilterFlags, data: Int) throws {
        let q = try KQueue()
        let entries = try register(q, [timer(1, fflags: fflags, data: data)])
        #expect(entries.count == 1)
        #expect(entries.first?.data == Int(Errno.outOfRange.rawValue))
        #expect(entries.first?.flags.contains(.error) == true)
        #expect(try !deleteSucceeds(q, ident: 1, filter: .timer))
    }

    @Test(
        "a negative period fires at once even when its nanoseconds would overflow (darwin tests the sign first)",
        arguments: [(KEvent.FilterFlags(), Int.min), (.seconds, -(Int.max / 1000)), (.useconds, Int.min + 1)])
    func hugeNegativeData(fflags: KEvent.FilterFlags, data: Int) throws {
        let q = try KQueue()
        let events = try kevent(q, [timer(1, fflags: fflags, data: data)], capacity: 4, timeout: .seconds(30))
        #expect(events.count == 1)
        #expect(events.first?.flags.contains(.error) == false)
        #expect(events.first?.data == 1)
    }

    @Test("the longest representable period is accepted and does not fire")
    func longestPeriod() throws {
        let q = try KQueue()
        try q.kevent(changes: [
            timer(1, fflags: .nseconds, data: Int.max), timer(2, fflags: .seconds, data: Int.max / 1_000_000_000),
            timer(3, data: Int.max / 1_000_000),
        ])
        #expect(try poll(q, timeout: .milliseconds(50)).isEmpty)
        for ident: UInt in [1, 2, 3] { #expect(try deleteSucceeds(q, ident: ident, filter: .timer)) }
    }

    @Test("an ERANGE or EINVAL modification leaves the running timer alone")
    func failedModification() throws {
        let q = try KQueue()
        let start = now()
        try q.kevent(changes: [timer(1, data: 60, udata: 1)])
        #expect(try outcome(q, timer(1, data: Int.max, udata: 2)) == .outOfRange)
        #expect(try outcome(q, timer(1, fflags: [.seconds, .useconds], data: 1, udata: 3)) == .invalidArgument)
        let (events, at) = try waitForEvents(q)
        #expect(at - start >= ms(60))
        #expect(events.first?.udata == 1)
        #expect(events.first?.data ?? 0 >= 1)
    }

    // MARK: NOTE_ABSOLUTE

    @Test("NOTE_ABSOLUTE fires not before its wall-clock deadline, once, and implies EV_ONESHOT", arguments: [
        (KEvent.FilterFlags.nseconds, 1), (.useconds, 1000), (KEvent.FilterFlags(), 1_000_000),
    ])
    func absoluteFuture(unit: KEvent.FilterFlags, nsPerUnit: Int) throws {
        let nsPerUnit = Int64(nsPerUnit)
        let q = try KQueue()
        let deadline = (wallClock() + ms(250)) / nsPerUnit
        let start = now()
        try q.kevent(changes: [timer(1, fflags: unit.union(.absolute), data: Int(deadline), udata: 8)])
        #expect(try poll(q).isEmpty)
        let (events, at) = try waitForEvents(q)
        let wall = wallClock()
        let event = try #require(events.first)
        #expect(wall >= deadline * nsPerUnit)
        #expect(at - start < ms(250) + lateness)
        #expect(event.data == 1)
        #expect(event.udata == 8)
        #expect(event.fflags == [])
        #expect(event.flags.isSuperset(of: [.oneshot, .clear]))
        #expect(try poll(q, timeout: .milliseconds(50)).isEmpty)
        #expect(try !deleteSucceeds(q, ident: 1, filter: .timer))
    }

    @Test("a NOTE_ABSOLUTE deadline in the past fires at once with data 1", arguments: [
        Int64(1), 1_000_000_000, 0,
    ])
    func absolutePast(secondsAgo: Int64) throws {
        let q = try KQueue()
        let deadline = secondsAgo == 0 ? 0 : wallClock() - secondsAgo * 1_000_000_000
        let events = try kevent(
            q, [timer(1, fflags: [.absolute, .nseconds], data: Int(deadline))], capacity: 4, timeout: .seconds(30))
        #expect(events.count == 1)
        #expect(events.first?.data == 1)
        #expect(events.first?.flags.contains(.oneshot) == true)
        #expect(try !deleteSucceeds(q, ident: 1, filter: .timer))
    }

    @Test("a far NOTE_ABSOLUTE deadline does not fire")
    func absoluteFar() throws {
        let q = try KQueue()
        let deadline = wallClock() / 1_000_000_000 + 3600
        try q.kevent(changes: [timer(1, fflags: [.absolute, .seconds], data: Int(deadline))])
        #expect(try poll(q, timeout: .milliseconds(60)).isEmpty)
        #expect(try deleteSucceeds(q, ident: 1, filter: .timer))
    }

    @Test("a NOTE_ABSOLUTE deadline is not early when the change comes late in a long changelist")
    func absoluteLateInChangelist() throws {
        // Enough earlier changes to take a noticeable time to apply; measure how long on another
        // queue. The deadline lies beyond the measured time (twice it, plus 100 ms), so that it
        // is still ahead when the timer's change is reached, and the emulation must convert it
        // to the monotonic clock then, not at the start of the call. How long applying takes
        // varies (debug build, a loaded machine, a sanitizer), so the wait below is derived from
        // the deadline itself, never a fixed limit.
        let filler = (0..<200_000).map { user(UInt($0), .add) }
        let scratch = try KQueue()
        let applyStart = now()
        try scratch.kevent(changes: filler)
        let applyTime = now() - applyStart
        scratch.close()

        let q = try KQueue()
        let deadline = wallClock() + 2 * applyTime + ms(100)
        try q.kevent(changes: filler + [timer(1, fflags: [.absolute, .nseconds], data: Int(deadline))])
        let ahead = max(deadline - wallClock(), 0)
        let (events, _) = try waitForEvents(q, capacity: 4, limit: .nanoseconds(ahead) + .seconds(60))
        let wall = wallClock()
        guard events.map(\.ident) == [1] else {
            Issue.record("expected the timer's event; got \(events) (the changelist took ≈ \(applyTime / 1_000_000) ms)")
            return
        }
        #expect(wall >= deadline, "fired \((deadline - wall) / 1000) µs early; the changelist took ≈ \(applyTime / 1000) µs")
    }

    @Test("toggling NOTE_ABSOLUTE on an existing timer is EINVAL and the old timer keeps running")
    func toggleAbsolute() throws {
        let q = try KQueue()
        let start = now()
        let deadline = (wallClock() + ms(150)) / 1_000_000
        try q.kevent(changes: [
            timer(1, data: 50, udata: 1),
            timer(2, fflags: .absolute, data: Int(deadline), udata: 1),
        ])
        #expect(try outcome(q, timer(1, fflags: .absolute, data: Int(deadline), udata: 2)) == .invalidArgument)
        #expect(try outcome(q, timer(2, data: 10, udata: 2)) == .invalidArgument)
        #expect(try outcome(q, timer(2, .enable, data: 10, udata: 2)) == .invalidArgument)
        var seen: [UInt: KEvent] = [:]
        while seen.count < 2 {
            let (events, at) = try waitForEvents(q)
            #expect(!events.isEmpty)
            if events.isEmpty { break }
            for event in events where seen[event.ident] == nil {
                seen[event.ident] = event
                #expect(at - start >= (event.ident == 1 ? ms(50) : ms(100)))
            }
        }
        #expect(seen[1]?.udata == 1)
        #expect(seen[2]?.udata == 1)
        #expect(seen[2]?.flags.contains(.oneshot) == true)
        #expect(seen[1]?.flags.contains(.oneshot) == false)
    }

    // MARK: Modification

    @Test("re-adding a timer restarts it: pending expirations are discarded and the new period is used")
    func readdRestarts() throws {
        let q = try KQueue()
        try q.kevent(changes: [timer(1, data: 10, udata: 1)])
        sleep(.milliseconds(80))  // ≈ 8 pending expirations
        let restart = now()
        try q.kevent(changes: [timer(1, data: 200, udata: 2)])
        #expect(try poll(q).isEmpty)
        let (events, at) = try waitForEvents(q)
        let event = try #require(events.first)
        #expect(at - restart >= ms(200))
        expectPeriods(event.data, elapsed: at - restart, period: ms(200))
        #expect(event.udata == 2)
    }

    @Test("a change without EV_ADD re-arms the timer from now with its data (darwin)")
    func bareChangeRearms() throws {
        let q = try KQueue()
        try q.kevent(changes: [timer(1, fflags: .seconds, data: 3600, udata: 1)])
        let restart = now()
        try q.kevent(changes: [timer(1, [], data: 60, udata: 2)])
        let (events, at) = try waitForEvents(q)
        #expect(at - restart >= ms(60))
        #expect(events.first?.udata == 2)
        expectPeriods(events.first?.data, elapsed: at - restart, period: ms(60))
        // Re-arming with data 0 fires at once.
        let now0 = try kevent(q, [timer(1, [], data: 0, udata: 3)], capacity: 4, timeout: .seconds(30))
        #expect(now0.map(\.udata) == [3])
    }

    @Test("re-adding does not change the flag word: a periodic timer stays periodic")
    func readdKeepsFlagWord() throws {
        let q = try KQueue()
        try q.kevent(changes: [timer(1, data: 3_600_000)])
        try q.kevent(changes: [timer(1, [.add, .oneshot], data: 20)])
        let (first, _) = try waitForEvents(q)
        #expect(first.first?.flags.contains(.oneshot) == false)
        let (second, _) = try waitForEvents(q)
        #expect(second.map(\.ident) == [1])
        #expect(try deleteSucceeds(q, ident: 1, filter: .timer))
    }

    // MARK: Enable, disable, dispatch, delete

    @Test("EV_DISABLE stops delivery, expired or not")
    func disableStops() throws {
        let q = try KQueue()
        try q.kevent(changes: [timer(1, data: 10), timer(2, data: 10)])
        sleep(.milliseconds(30))  // timer 2 has expired, not yet retrieved
        try q.kevent(changes: [timer(1, .disable, data: 10), timer(2, .disable, data: 10)])
        #expect(try poll(q, timeout: .milliseconds(150)).isEmpty)
        #expect(try deleteSucceeds(q, ident: 1, filter: .timer))
        #expect(try deleteSucceeds(q, ident: 2, filter: .timer))
    }

    @Test("EV_ENABLE re-arms the timer from scratch with the enable's data: nothing is delivered at once (darwin)")
    func enableRearms() throws {
        let q = try KQueue()
        try q.kevent(changes: [timer(1, data: 20)])
        try q.kevent(changes: [timer(1, .disable, data: 20)])
        sleep(.milliseconds(100))
        let enable = now()
        // Applied and polled in one call: nothing accumulated while disabled.
        #expect(try kevent(q, [timer(1, .enable, data: 150, udata: 5)], capacity: 4, timeout: .zero).isEmpty)
        let (events, at) = try waitForEvents(q)
        #expect(at - enable >= ms(150))
        expectPeriods(events.first?.data, elapsed: at - enable, period: ms(150))
        #expect(events.first?.udata == 5)
    }

    @Test("EV_ENABLE with data 0 fires at once (darwin: the enable's data is the new period)")
    func enableWithZero() throws {
        let q = try KQueue()
        try q.kevent(changes: [timer(1, fflags: .seconds, data: 3600)])
        try q.kevent(changes: [timer(1, .disable, fflags: .seconds, data: 3600)])
        let events = try kevent(q, [timer(1, .enable, data: 0)], capacity: 4, timeout: .seconds(30))
        #expect(events.map(\.ident) == [1])
    }

    @Test("a change with invalid timer parameters is not applied at all: its EV_DISABLE and udata are ignored")
    func invalidChangeNotApplied() throws {
        let q = try KQueue()
        let start = now()
        try q.kevent(changes: [timer(1, data: 40, udata: 1)])
        #expect(try outcome(q, timer(1, .disable, fflags: [.seconds, .nseconds], data: 1, udata: 2)) == .invalidArgument)
        #expect(try outcome(q, timer(1, .disable, data: Int.max, udata: 3)) == .outOfRange)
        let (events, at) = try waitForEvents(q)
        #expect(events.map(\.ident) == [1])
        #expect(events.first?.udata == 1)
        #expect(at - start >= ms(40))
    }

    @Test("EV_DISPATCH delivers once, then the timer stays disabled until EV_ENABLE")
    func dispatch() throws {
        let q = try KQueue()
        try q.kevent(changes: [timer(1, [.add, .dispatch], data: 20)])
        let (first, _) = try waitForEvents(q)
        #expect(first.count == 1)
        #expect(first.first?.flags.contains(.dispatch) == true)
        #expect(try poll(q, timeout: .milliseconds(150)).isEmpty)
        let enable = now()
        #expect(try kevent(q, [timer(1, .enable, data: 40)], capacity: 4, timeout: .zero).isEmpty)
        let (second, at) = try waitForEvents(q)
        #expect(second.count == 1)
        expectPeriods(second.first?.data, elapsed: at - enable, period: ms(40))
        #expect(at - enable >= ms(40))
        // Disabled again after that delivery.
        #expect(try poll(q, timeout: .milliseconds(100)).isEmpty)
    }

    @Test("EV_ADD|EV_DISABLE registers a stopped timer; EV_ENABLE starts it")
    func addDisabled() throws {
        let q = try KQueue()
        try q.kevent(changes: [timer(1, [.add, .disable], data: 10)])
        #expect(try poll(q, timeout: .milliseconds(100)).isEmpty)
        let enable = now()
        #expect(try kevent(q, [timer(1, .enable, data: 50)], capacity: 4, timeout: .zero).isEmpty)
        let (events, at) = try waitForEvents(q)
        #expect(events.map(\.ident) == [1])
        #expect(at - enable >= ms(50))
        expectPeriods(events.first?.data, elapsed: at - enable, period: ms(50))
    }

    @Test("EV_DELETE drops an expiration that was not yet returned")
    func deleteDropsPending() throws {
        let q = try KQueue()
        try q.kevent(changes: [timer(1, data: 0), timer(2, data: 5), timer(3, [.add, .oneshot], data: 5)])
        sleep(.milliseconds(30))
        try q.kevent(changes: [timer(1, .delete, data: 0), timer(2, .delete, data: 0), timer(3, .delete, data: 0)])
        #expect(try poll(q, timeout: .milliseconds(50)).isEmpty)
    }

    @Test("EV_RECEIPT given at creation is kept in every returned timer event")
    func receiptSticky() throws {
        let q = try KQueue()
        let entries = try register(q, [timer(1, [.add, .receipt], data: 10)])
        #expect(entries.first?.data == 0)
        for _ in 0..<2 {
            let (events, _) = try waitForEvents(q)
            #expect(events.first?.flags.contains(.receipt) == true)
            #expect(events.first?.flags.contains(.error) == false)
        }
    }
}
