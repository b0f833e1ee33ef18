import KQueue
import SystemPackage
import TestSupport
import Testing

/// kevent(): the call itself (KQUEUE.md §3, §4; darwin profile).
@Suite("kevent mechanics", .blocking)
struct KEventMechanicsTests {
    // MARK: Changes

    @Test("changes are applied strictly in order")
    func changesInOrder() throws {
        let q = try KQueue()
        // add, delete, add again: the knote exists with the last udata and is triggered.
        try q.kevent(changes: [
            user(1, [.add, .clear], udata: 10),
            user(1, .delete),
            user(1, [.add, .clear], fflags: .trigger, udata: 30),
        ])
        let events = try poll(q)
        #expect(events.count == 1)
        #expect(events.first?.udata == 30)

        // add + trigger + delete: nothing is left, nothing pending.
        try q.kevent(changes: [user(2, [.add, .clear]), user(2, fflags: .trigger), user(2, .delete)])
        #expect(try poll(q).isEmpty)
        #expect(try outcome(q, user(2, .delete)) == .noSuchFileOrDirectory)
    }

    @Test("error and receipt entries are written in the order of the changes")
    func entriesInOrder() throws {
        let q = try KQueue()
        let changes = [
            user(1, [.add, .receipt]),
            user(2, .delete),
            user(3, [.add, .receipt]),
            KEvent(ident: 4, filter: KEvent.Filter(rawValue: -100), flags: .add),
            user(1, [.delete, .receipt]),
        ]
        let entries = try kevent(q, changes, capacity: 8, timeout: nil)
        #expect(entries.map(\.ident) == [1, 2, 3, 4, 1])
        #expect(entries.map(\.data) == [
            0, Int(Errno.noSuchFileOrDirectory.rawValue), 0, Int(Errno.invalidArgument.rawValue), 0,
        ])
        #expect(entries.allSatisfy { $0.flags.contains(.error) })
    }

    @Test("an EV_ERROR entry carries the change with EV_ERROR added and the errno in data")
    func errorEntryFields() throws {
        let q = try KQueue()
        let change = KEvent(
            ident: UInt.max - 1, filter: .user, flags: [.delete, .clear], fflags: [.ffor, .trigger],
            data: 12345, udata: UInt.max)
        let entries = try kevent(q, [change], capacity: 4)
        let entry = try #require(entries.first)
        #expect(entries.count == 1)
        #expect(entry.ident == change.ident)
        #expect(entry.filter == .user)
        #expect(entry.flags == change.expectedEntryFlags)
        #expect(entry.fflags == change.fflags)
        #expect(entry.data == Int(Errno.noSuchFileOrDirectory.rawValue))
        #expect(entry.udata == UInt.max)
    }

    @Test("EV_DELETE, EV_ENABLE, EV_DISABLE and a bare change of an absent knote are ENOENT", arguments: [
        KEvent.Flags.delete, .enable, .disable, [],
    ])
    func absentKnote(flags: KEvent.Flags) throws {
        let q = try KQueue()
        #expect(try outcome(q, user(5, flags)) == .noSuchFileOrDirectory)
        #expect(try outcome(q, user(5, flags, fflags: .trigger)) == .noSuchFileOrDirectory)
        #expect(try outcome(q, timer(5, flags, data: 10)) == .noSuchFileOrDirectory)
        // Nothing was created on the way.
        #expect(try outcome(q, user(5, .delete)) == .noSuchFileOrDirectory)
        #expect(try outcome(q, timer(5, .delete, data: 0)) == .noSuchFileOrDirectory)
    }

    @Test("an unknown filter number is EINVAL", arguments: [Int16(0), 1, 7, -20, -100, .min, .max])
    func unknownFilter(raw: Int16) throws {
        let q = try KQueue()
        for flags: KEvent.Flags in [.add, .delete, .enable, []] {
            let change = KEvent(ident: 3, filter: KEvent.Filter(rawValue: raw), flags: flags)
            let entries = try kevent(q, [change], capacity: 2)
            #expect(entries.count == 1)
            #expect(entries.first?.data == Int(Errno.invalidArgument.rawValue))
            #expect(entries.first?.filter.rawValue == raw)
        }
    }

    @Test("EV_RECEIPT yields an entry with EV_ERROR and data 0 for a successful change")
    func receiptEntries() throws {
        let q = try KQueue()
        let changes = [
            user(1, [.add, .clear, .receipt], fflags: [.ffcopy, KEvent.FilterFlags(rawValue: 0x42)], data: 9, udata: 77),
            timer(2, [.add, .receipt], fflags: .seconds, data: 3600, udata: 78),
            user(1, [.receipt], fflags: .trigger, data: 10, udata: 79),
        ]
        let entries = try kevent(q, changes, capacity: 8, timeout: nil)
        #expect(entries.count == 3)
        for (entry, change) in zip(entries, changes) {
            #expect(entry.ident == change.ident)
            #expect(entry.filter == change.filter)
            #expect(entry.flags == change.expectedEntryFlags)
            #expect(entry.data == 0)
            #expect(entry.udata == change.udata)
        }
    }

    // MARK: Entries end the call

    @Test("a call that writes an error or receipt entry returns at once without collecting events")
    func entriesEndTheCall() throws {
        let q = try KQueue()
        try q.kevent(changes: [user(1, [.add, .clear], fflags: .trigger)])

        // An error entry, room for more, timeout nil: the pending event is not returned.
        let first = try kevent(q, [user(99, .delete)], capacity: 8, timeout: nil)
        #expect(first.count == 1)
        #expect(first.first?.ident == 99)
        #expect(first.first?.data == Int(Errno.noSuchFileOrDirectory.rawValue))

        // A receipt entry: same.
        let second = try kevent(q, [user(2, [.add, .receipt])], capacity: 8, timeout: nil)
        #expect(second.count == 1)
        #expect(second.first?.ident == 2)
        #expect(second.first?.data == 0)

        // The next call returns the event that was pending all along.
        let events = try poll(q, timeout: nil)
        #expect(events.map(\.ident) == [1])
        #expect(events.first?.flags.contains(.error) == false)
    }

    @Test("a call that writes an entry does not wait even when nothing is pending")
    func entriesDoNotWait() throws {
        let q = try KQueue()
        let start = now()
        let entries = try kevent(q, [user(1, .delete), user(2, [.add, .receipt])], capacity: 8, timeout: .seconds(30))
        #expect(entries.count == 2)
        #expect(now() - start < lateness)
    }

    @Test("an error with no room left throws its errno; earlier changes stay applied, later ones are not")
    func errorWithoutRoom() throws {
        let q = try KQueue()
        var none: [KEvent] = []
        #expect(throws: Errno.noSuchFileOrDirectory) {
            _ = try q.kevent(changes: [user(1, .add), user(50, .delete), user(2, .add)], events: &none, timeout: nil)
        }
        #expect(try deleteSucceeds(q, ident: 1, filter: .user))
        #expect(try !deleteSucceeds(q, ident: 2, filter: .user))

        // With room for one entry: the first error is written, the second has no room.
        var one = [KEvent](repeating: KEvent(), count: 1)
        #expect(throws: Errno.invalidArgument) {
            _ = try q.kevent(
                changes: [
                    user(51, .delete), user(3, .add), timer(4, fflags: [.seconds, .nseconds], data: 1), user(5, .add),
                ],
                events: &one, timeout: nil)
        }
        #expect(try deleteSucceeds(q, ident: 3, filter: .user))
        #expect(try !deleteSucceeds(q, ident: 4, filter: .timer))
        #expect(try !deleteSucceeds(q, ident: 5, filter: .user))
    }

    @Test("kevent(changes:) throws the first failing change's errno and stops there")
    func applyOnlyThrows() throws {
        let q = try KQueue()
        #expect(throws: Errno.invalidArgument) {
            try q.kevent(changes: [
                user(1, .add), KEvent(ident: 1, filter: KEvent.Filter(rawValue: -99), flags: .add), user(50, .delete),
                user(2, .add),
            ])
        }
        #expect(try deleteSucceeds(q, ident: 1, filter: .user))
        #expect(try !deleteSucceeds(q, ident: 2, filter: .user))
        try q.kevent(changes: [])
        try q.kevent(changes: [user(3, [.add, .receipt]), user(3, [.delete, .receipt])])
        #expect(try !deleteSucceeds(q, ident: 3, filter: .user))
    }

    @Test("a receipt with no room is dropped and the later changes are still applied (darwin)")
    func receiptWithoutRoom() throws {
        let q = try KQueue()
        var none: [KEvent] = []
        let count = try q.kevent(
            changes: [user(1, [.add, .receipt]), user(2, [.add, .receipt]), user(3, .add)], events: &none, timeout: nil)
        #expect(count == 0)
        for ident: UInt in [1, 2, 3] { #expect(try deleteSucceeds(q, ident: ident, filter: .user)) }

        var one = [KEvent](repeating: KEvent(), count: 1)
        let written = try q.kevent(
            changes: [user(4, [.add, .receipt]), user(5, [.add, .receipt]), user(6, [.add, .receipt])],
            events: &one, timeout: nil)
        #expect(written == 1)
        #expect(one[0].ident == 4)
        for ident: UInt in [4, 5, 6] { #expect(try deleteSucceeds(q, ident: ident, filter: .user)) }

        // A later error with no room still throws.
        var two = [KEvent](repeating: KEvent(), count: 1)
        #expect(throws: Errno.noSuchFileOrDirectory) {
            _ = try q.kevent(changes: [user(7, [.add, .receipt]), user(8, .delete)], events: &two, timeout: nil)
        }
        #expect(try deleteSucceeds(q, ident: 7, filter: .user))
    }

    // MARK: Event buffer and timeout

    @Test("an empty event buffer returns 0 at once, even with timeout nil, after applying the changes")
    func emptyBuffer() throws {
        let q = try KQueue()
        var none: [KEvent] = []
        let start = now()
        #expect(try q.kevent(changes: [user(1, [.add, .clear], fflags: .trigger)], events: &none, timeout: nil) == 0)
        #expect(try q.kevent(changes: [], events: &none, timeout: nil) == 0)
        #expect(try q.kevent(changes: [], events: &none, timeout: .seconds(30)) == 0)
        #expect(now() - start < lateness)
        // The change was applied and its event is still pending.
        #expect(try poll(q).map(\.ident) == [1])
    }

    @Test("a negative timeout is EINVAL and no change is applied", arguments: [
        Duration.nanoseconds(-1), .milliseconds(-1), .seconds(-1), .seconds(Int64.min),
    ])
    func negativeTimeout(timeout: Duration) throws {
        let q = try KQueue()
        var events = [KEvent](repeating: KEvent(), count: 4)
        #expect(throws: Errno.invalidArgument) {
            _ = try q.kevent(changes: [user(1, [.add, .clear], fflags: .trigger)], events: &events, timeout: timeout)
        }
        #expect(try poll(q).isEmpty)
        #expect(try !deleteSucceeds(q, ident: 1, filter: .user))
    }

    @Test("a timeout over Int32.max seconds is EINVAL and no change is applied; Int32.max is accepted")
    func hugeTimeout() throws {
        let q = try KQueue()
        var events = [KEvent](repeating: KEvent(), count: 4)
        for timeout in [Duration.seconds(Int64(Int32.max) + 1), .seconds(Int64.max)] {
            #expect(throws: Errno.invalidArgument) {
                _ = try q.kevent(changes: [user(1, [.add, .clear], fflags: .trigger)], events: &events, timeout: timeout)
            }
        }
        #expect(try !deleteSucceeds(q, ident: 1, filter: .user))

        // The largest valid timeout; the pending event makes the call return at once.
        let max = Duration.seconds(Int64(Int32.max)) + .nanoseconds(999_999_999)
        let count = try q.kevent(changes: [user(2, [.add, .clear], fflags: .trigger)], events: &events, timeout: max)
        #expect(count == 1)
        #expect(events[0].ident == 2)
    }

    @Test("polling with a zero timeout returns 0 when nothing is pending")
    func pollNothing() throws {
        let q = try KQueue()
        #expect(try poll(q).isEmpty)
        try q.kevent(changes: [user(1, [.add, .clear]), timer(2, fflags: .seconds, data: 3600)])
        let start = now()
        #expect(try poll(q).isEmpty)
        #expect(now() - start < lateness)
    }

    @Test("a finite timeout waits at least that long", arguments: [
        Duration.nanoseconds(1), .microseconds(1500), .milliseconds(30), .milliseconds(250),
    ])
    func finiteTimeout(timeout: Duration) throws {
        let q = try KQueue()
        try q.kevent(changes: [user(1, [.add, .clear]), timer(2, fflags: .seconds, data: 3600)])
        let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        let start = now()
        let events = try poll(q, timeout: timeout)
        let elapsed = now() - start
        #expect(events.isEmpty)
        #expect(elapsed >= nanoseconds)
        #expect(elapsed < nanoseconds + lateness)
    }

    @Test("entries past the returned count are left as they were")
    func untouchedEntries() throws {
        let q = try KQueue()
        try q.kevent(changes: [user(1, [.add, .clear], fflags: .trigger)])
        let sentinel = KEvent(ident: 4242, filter: .timer, flags: .eof, fflags: .exit, data: -7, udata: 99)
        var events = [KEvent](repeating: sentinel, count: 4)
        #expect(try q.kevent(changes: [], events: &events, timeout: .zero) == 1)
        #expect(events[0].ident == 1)
        #expect(events[1...].allSatisfy { $0 == sentinel })
        #expect(try q.kevent(changes: [], events: &events, timeout: .zero) == 0)
        #expect(events[0].ident == 1)
        #expect(events[1...].allSatisfy { $0 == sentinel })
    }

    // MARK: Flags

    @Test("output-only bits (EV_EOF, EV_ERROR) in a change are ignored")
    func outputBitsIgnored() throws {
        let q = try KQueue()
        let add = user(1, [.add, .clear, .eof, .error], fflags: .trigger, udata: 5)
        // Not an error entry: the change is an ordinary add.
        #expect(try kevent(q, [add], capacity: 0).isEmpty)
        let events = try poll(q)
        #expect(events.count == 1)
        #expect(events.first?.flags.contains(.clear) == true)
        #expect(events.first?.flags.isDisjoint(with: [.eof, .error]) == true)

        // A receipt entry for such a change reports the caller's flags without EV_EOF.
        let change = user(2, [.add, .receipt, .eof])
        let entries = try register(q, [change])
        #expect(entries.first?.flags == [.add, .receipt, .error])
        #expect(entries.first?.data == 0)

        // A delete carrying EV_ERROR is still a delete.
        #expect(try outcome(q, user(1, [.delete, .error])) == nil)
        #expect(try outcome(q, user(1, .delete)) == .noSuchFileOrDirectory)
    }

    @Test("ident, udata and data pass through unchanged, whatever their values")
    func passThrough() throws {
        let q = try KQueue()
        let cases: [(UInt, Int, UInt)] = [
            (UInt.max, Int.max, UInt.max), (0, Int.min, 0), (1 << 63, -1, 1 << 63), (12345, 0, 0xDEAD_BEEF_CAFE_F00D),
        ]
        for (ident, data, udata) in cases {
            try q.kevent(changes: [user(ident, [.add, .clear], fflags: .trigger, data: data, udata: udata)])
            let events = try poll(q)
            #expect(events.count == 1)
            #expect(events.first?.ident == ident)
            #expect(events.first?.filter == .user)
            #expect(events.first?.data == data)
            #expect(events.first?.udata == udata)
        }
        try q.kevent(changes: [timer(UInt.max, [.add, .oneshot], data: 0, udata: UInt.max)])
        let timers = try poll(q)
        #expect(timers.map(\.ident) == [UInt.max])
        #expect(timers.first?.udata == UInt.max)
    }

    @Test("EV_ADD returns the creation flags in events (darwin echoes EV_ADD)")
    func addEchoed() throws {
        let q = try KQueue()
        try q.kevent(changes: [user(1, [.add, .clear, .dispatch], fflags: .trigger)])
        let events = try poll(q)
        #expect(events.first?.flags.isSuperset(of: [.add, .clear, .dispatch]) == true)
        #expect(events.first?.flags.isDisjoint(with: [.delete, .error, .eof, .oneshot]) == true)
    }

    @Test(
        "EV_ENABLE given at creation is echoed in events like every other creation flag (darwin)",
        )
    func enableEchoed() throws {
        let q = try KQueue()
        try q.kevent(changes: [user(1, [.add, .enable, .clear], fflags: .trigger)])
        let events = try poll(q)
        #expect(events.first?.flags.isSuperset(of: [.add, .enable, .clear]) == true)
    }

    @Test("the same ident in the timer and the user filter names two independent knotes")
    func sameIdentTwoFilters() throws {
        let q = try KQueue()
        try q.kevent(changes: [timer(41, fflags: .seconds, data: 3600, udata: 1), user(41, [.add, .clear], udata: 2)])
        try q.kevent(changes: [user(41, fflags: .trigger, udata: 3)])
        let events = try poll(q)
        #expect(events.count == 1)
        #expect(events.first?.filter == .user)
        #expect(events.first?.udata == 3)
        #expect(try deleteSucceeds(q, ident: 41, filter: .user))
        #expect(try !deleteSucceeds(q, ident: 41, filter: .user))
        #expect(try deleteSucceeds(q, ident: 41, filter: .timer))
    }

    @Test("two queues are independent")
    func twoQueues() throws {
        let a = try KQueue()
        let b = try KQueue()
        #expect(a.descriptor != b.descriptor)
        try a.kevent(changes: [user(1, [.add, .clear], udata: 1)])
        try b.kevent(changes: [user(1, [.add, .clear], udata: 2)])
        try a.kevent(changes: [user(1, fflags: .trigger, udata: 1)])
        #expect(try poll(b).isEmpty)
        #expect(try poll(a).map(\.udata) == [1])
        try a.kevent(changes: [user(1, .delete)])
        try b.kevent(changes: [user(1, fflags: .trigger, udata: 2)])
        #expect(try poll(b).map(\.udata) == [2])
        #expect(try poll(a).isEmpty)
        try a.kevent(changes: [timer(7, [.add, .oneshot], data: 0)])
        #expect(try poll(b).isEmpty)
        #expect(try poll(a).map(\.ident) == [7])
        a.close()
        try b.kevent(changes: [user(1, fflags: .trigger, udata: 3)])
        #expect(try poll(b).map(\.udata) == [3])
    }

    @Test("EV_ADD of an existing knote modifies it and never duplicates it")
    func addModifies() throws {
        let q = try KQueue()
        try q.kevent(changes: [user(1, [.add, .clear], udata: 1), user(1, [.add, .clear], udata: 2)])
        try q.kevent(changes: [user(1, .add, fflags: .trigger, udata: 3)])
        let events = try poll(q)
        #expect(events.count == 1)
        #expect(events.first?.udata == 3)
        #expect(try deleteSucceeds(q, ident: 1, filter: .user))
        #expect(try !deleteSucceeds(q, ident: 1, filter: .user))

        try q.kevent(changes: [timer(2, data: 0), timer(2, data: 0)])
        #expect(try poll(q).count == 1)
        #expect(try deleteSucceeds(q, ident: 2, filter: .timer))
        #expect(try !deleteSucceeds(q, ident: 2, filter: .timer))
    }

    @Test("EV_ADD|EV_DELETE of an absent knote is ENOENT and adds nothing (darwin: delete overrules)")
    func addDeleteAbsent() throws {
        let q = try KQueue()
        #expect(try outcome(q, user(1, [.add, .delete], fflags: .trigger)) == .noSuchFileOrDirectory)
        #expect(try outcome(q, timer(2, [.add, .delete], data: 10)) == .noSuchFileOrDirectory)
        #expect(try poll(q).isEmpty)
        #expect(try !deleteSucceeds(q, ident: 1, filter: .user))
        #expect(try !deleteSucceeds(q, ident: 2, filter: .timer))

        // Present: it is deleted, pending trigger included.
        try q.kevent(changes: [user(3, [.add, .clear], fflags: .trigger)])
        #expect(try outcome(q, user(3, [.add, .delete])) == nil)
        #expect(try poll(q).isEmpty)
        #expect(try !deleteSucceeds(q, ident: 3, filter: .user))
    }

    @Test("EV_ENABLE|EV_DISABLE disables (darwin: disable overrules)")
    func enableDisable() throws {
        let q = try KQueue()
        // New knote: created disabled, the trigger is remembered.
        try q.kevent(changes: [user(1, [.add, .clear, .enable, .disable], fflags: .trigger)])
        #expect(try poll(q).isEmpty)
        try q.kevent(changes: [user(1, .enable)])
        #expect(try poll(q).map(\.ident) == [1])

        // Existing, triggered knote.
        try q.kevent(changes: [user(1, [.enable, .disable], fflags: .trigger)])
        #expect(try poll(q).isEmpty)
        try q.kevent(changes: [user(1, .enable)])
        #expect(try poll(q).map(\.ident) == [1])

        // A timer created with both does not run.
        try q.kevent(changes: [timer(2, [.add, .enable, .disable], data: 0)])
        #expect(try poll(q, timeout: .milliseconds(50)).isEmpty)
    }

    @Test("each knote is returned at most once per call")
    func atMostOncePerCall() throws {
        let q = try KQueue()
        // Two level-triggered user events and a timer that expires every microsecond.
        try q.kevent(changes: [
            user(1, .add, fflags: .trigger), user(2, .add, fflags: .trigger),
            timer(3, fflags: .nseconds, data: 1000),
        ])
        sleep(.milliseconds(5))
        let events = try poll(q, capacity: 64)
        #expect(events.count == 3)
        #expect(Set(events.map { "\($0.filter)/\($0.ident)" }).count == events.count)
        let tick = try #require(events.first { $0.filter == .timer })
        #expect(tick.data >= 1000)  // ≥ 5 ms of 1 µs periods, all in one event
        // The level-triggered ones come back in the next call.
        let again = try poll(q, capacity: 64)
        #expect(Set(again.filter { $0.filter == .user }.map(\.ident)) == [1, 2])
    }

    @Test("level-triggered knotes take turns when the buffer is smaller than the ready count")
    func levelTriggeredTakeTurns() throws {
        let q = try KQueue()
        try q.kevent(changes: [user(1, .add, fflags: .trigger), user(2, .add, fflags: .trigger)])
        var seen: [UInt] = []
        for _ in 0..<4 { seen += try poll(q, capacity: 1).map(\.ident) }
        #expect(seen.count == 4)
        #expect(Set(seen) == [1, 2])
    }

    @Test("events beyond the buffer's capacity are returned by the next calls")
    func smallBuffer() throws {
        let q = try KQueue()
        let idents: [UInt] = Array(10..<17)
        try q.kevent(changes: idents.map { user($0, [.add, .clear], fflags: .trigger) })
        var seen: [UInt] = []
        var batches: [Int] = []
        while true {
            let events = try poll(q, capacity: 3)
            if events.isEmpty { break }
            batches.append(events.count)
            seen += events.map(\.ident)
        }
        #expect(batches == [3, 3, 1])
        #expect(seen.sorted() == idents)
    }

    @Test(
        "(ident, filter) lookups hold through additions and deletions for runs, strides of 16 and scattered idents",
        arguments: ["run", "stride", "scattered"]
    )
    func identPatterns(pattern: String) throws {
        let q = try KQueue()
        var state: UInt64 = 42  // SplitMix64, seeded
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let count = 5_000
        let idents: [UInt] = (0..<count).map { index in
            switch pattern {
            case "run": UInt(1_000 + index)
            case "stride": UInt(0x7F00_0000 + index * 16)
            default: UInt(truncatingIfNeeded: next())
            }
        }
        // Each ident gets a user knote; every third one also a timer knote of the same ident.
        try q.kevent(changes: idents.map { user($0, .add) })
        try q.kevent(changes: idents.enumerated().filter { $0.offset % 3 == 0 }.map { timer($0.element, data: 3_600_000) })
        // Delete a scattered half of the user knotes.
        var deleted = Set<Int>()
        while deleted.count < count / 2 { deleted.insert(Int(next() % UInt64(count))) }
        for index in deleted { #expect(try deleteSucceeds(q, ident: idents[index], filter: .user)) }
        for (index, ident) in idents.enumerated() {
            #expect(try deleteSucceeds(q, ident: ident, filter: .user) == !deleted.contains(index), "user \(ident)")
            if index % 3 == 0 { #expect(try deleteSucceeds(q, ident: ident, filter: .timer), "timer \(ident)") }
        }
        #expect(try poll(q, capacity: 8).isEmpty)
    }

    // MARK: close()

    @Test("after close() every call throws EBADF, the descriptor is -1, and closing twice is harmless")
    func closeQueue() throws {
        let q = try KQueue()
        #expect(q.descriptor >= 0)
        try q.kevent(changes: [user(1, [.add, .clear], fflags: .trigger), timer(2, data: 0)])
        q.close()
        #expect(q.descriptor == -1)
        var events = [KEvent](repeating: KEvent(), count: 4)
        #expect(throws: Errno.badFileDescriptor) { _ = try q.kevent(changes: [], events: &events, timeout: .zero) }
        #expect(throws: Errno.badFileDescriptor) { _ = try q.kevent(changes: [], events: &events, timeout: nil) }
        #expect(throws: Errno.badFileDescriptor) { try q.kevent(changes: [user(3, .add)]) }
        #expect(throws: Errno.badFileDescriptor) { try q.kevent(changes: []) }
        var none: [KEvent] = []
        #expect(throws: Errno.badFileDescriptor) { _ = try q.kevent(changes: [], events: &none, timeout: nil) }
        q.close()
        #expect(q.descriptor == -1)
        #expect(throws: Errno.badFileDescriptor) { _ = try q.kevent(changes: [], events: &events, timeout: .zero) }
    }
}
