import KQueue
import SystemPackage
import TestSupport
import Testing

/// EVFILT_USER, darwin profile (KQUEUE.md §6; UserFilter.swift).
///
/// Returned fflags are compared under NOTE_FFLAGSMASK only, as KQUEUE.md advises.
@Suite("EVFILT_USER", .blocking)
struct UserFilterTests {
    static let mask = KEvent.FilterFlags.fflagsmask

    /// The low 24 bits of `fflags`.
    func low(_ fflags: KEvent.FilterFlags?) -> UInt32? {
        fflags.map { $0.intersection(Self.mask).rawValue }
    }

    @Test("EV_ADD with NOTE_TRIGGER fires at once (darwin)")
    func addAndTrigger() throws {
        let q = try KQueue()
        let flags = KEvent.FilterFlags(rawValue: 0x00AB_CDEF)
        let events = try kevent(
            q, [user(1, [.add, .clear], fflags: flags.union(.trigger), data: 7, udata: 8)], capacity: 4, timeout: nil)
        let event = try #require(events.first)
        #expect(events.count == 1)
        #expect(event.ident == 1)
        #expect(event.filter == .user)
        #expect(low(event.fflags) == 0x00AB_CDEF)
        #expect(event.data == 7)
        #expect(event.udata == 8)
        #expect(event.flags.contains(.clear))
        #expect(event.flags.isDisjoint(with: [.error, .eof]))
    }

    @Test("EV_ADD without NOTE_TRIGGER does not fire; a later NOTE_TRIGGER does")
    func triggerLater() throws {
        let q = try KQueue()
        try q.kevent(changes: [user(1, [.add, .clear], fflags: KEvent.FilterFlags(rawValue: 0x11), data: 1)])
        #expect(try poll(q, timeout: .milliseconds(50)).isEmpty)
        let events = try kevent(q, [user(1, fflags: .trigger, data: 2)], capacity: 4, timeout: nil)
        #expect(events.map(\.ident) == [1])
        #expect(low(events.first?.fflags) == 0x11)  // NOTE_FFNOP: flags unchanged
        #expect(events.first?.data == 2)
        #expect(try poll(q).isEmpty)
        // EV_ADD|NOTE_TRIGGER on the existing knote triggers it too (mio's waker).
        try q.kevent(changes: [user(1, .add, fflags: .trigger)])
        #expect(try poll(q).map(\.ident) == [1])
        #expect(try poll(q).isEmpty)  // still EV_CLEAR from the first EV_ADD
    }

    @Test("NOTE_FFNOP, NOTE_FFAND, NOTE_FFOR and NOTE_FFCOPY combine the 24 user bits")
    func fflagsControl() throws {
        let q = try KQueue()
        func fire(_ control: KEvent.FilterFlags, _ bits: UInt32) throws -> UInt32? {
            let change = user(1, fflags: control.union(.trigger).union(KEvent.FilterFlags(rawValue: bits)))
            return low(try kevent(q, [change], capacity: 4, timeout: .zero).first?.fflags)
        }
        try q.kevent(changes: [user(1, [.add, .clear], fflags: KEvent.FilterFlags(rawValue: 0x0F0F0F))])
        #expect(try fire(.ffnop, 0xFFFFFF) == 0x0F0F0F)
        #expect(try fire(.ffand, 0x00FF00) == 0x000F00)
        #expect(try fire(.ffor, 0xF00000) == 0xF00F00)
        #expect(try fire(.ffor, 0x000000) == 0xF00F00)
        #expect(try fire(.ffcopy, 0x123456) == 0x123456)
        #expect(try fire(.ffand, 0xFFFFFF) == 0x123456)
        #expect(try fire(.ffand, 0x000000) == 0x000000)
        #expect(try fire(.ffcopy, 0xFFFFFF) == 0xFFFFFF)
        #expect(try fire(.ffnop, 0x000001) == 0xFFFFFF)
        // A change without NOTE_TRIGGER still updates the stored bits.
        try q.kevent(changes: [user(1, fflags: KEvent.FilterFlags.ffcopy.union(KEvent.FilterFlags(rawValue: 0xA5)))])
        #expect(try fire(.ffnop, 0) == 0xA5)
    }

    @Test("FFOR bits of several triggers accumulate into one event")
    func fforAccumulates() throws {
        let q = try KQueue()
        try q.kevent(changes: [user(1, [.add, .clear])])
        try q.kevent(changes: [1, 2, 4, 0x80_0000].map {
            user(1, fflags: KEvent.FilterFlags.ffor.union(.trigger).union(KEvent.FilterFlags(rawValue: $0)))
        })
        let events = try poll(q)
        #expect(events.count == 1)
        #expect(low(events.first?.fflags) == 0x80_0007)
    }

    @Test("data and udata are replaced by every change, with or without NOTE_TRIGGER")
    func dataReplaced() throws {
        let q = try KQueue()
        try q.kevent(changes: [user(1, [.add, .clear], data: 7, udata: 1)])
        try q.kevent(changes: [user(1, fflags: .trigger, data: 42, udata: 2)])
        var events = try poll(q)
        #expect(events.first?.data == 42)
        #expect(events.first?.udata == 2)

        // A change after the trigger, before retrieval, replaces them again (here: an EV_ENABLE).
        try q.kevent(changes: [user(1, fflags: .trigger, data: 43, udata: 3), user(1, .enable, data: 0, udata: 0)])
        events = try poll(q)
        #expect(events.first?.data == 0)
        #expect(events.first?.udata == 0)

        // EV_ADD of the existing knote replaces them too; the last change wins.
        try q.kevent(changes: [user(1, [.add], data: -5, udata: UInt.max), user(1, fflags: .trigger, data: -6, udata: 9)])
        events = try poll(q)
        #expect(events.first?.data == -6)
        #expect(events.first?.udata == 9)
    }

    @Test("several triggers before a retrieval collapse into one event")
    func triggersCollapse() throws {
        let q = try KQueue()
        try q.kevent(changes: [user(1, [.add, .clear])])
        try q.kevent(changes: (0..<5).map { user(1, fflags: .trigger, data: $0) })
        try q.kevent(changes: [user(1, fflags: .trigger, data: 5)])
        let events = try poll(q)
        #expect(events.count == 1)
        #expect(events.first?.data == 5)
        #expect(try poll(q).isEmpty)
    }

    @Test("with EV_CLEAR a retrieval un-triggers the event")
    func clearUntriggers() throws {
        let q = try KQueue()
        try q.kevent(changes: [user(1, [.add, .clear], fflags: .trigger)])
        #expect(try poll(q).count == 1)
        #expect(try poll(q, timeout: .milliseconds(50)).isEmpty)
        try q.kevent(changes: [user(1, fflags: .trigger)])
        #expect(try poll(q).count == 1)
        #expect(try poll(q).isEmpty)
    }

    @Test("without EV_CLEAR a triggered event is returned by every call until disabled or deleted")
    func levelTriggered() throws {
        let q = try KQueue()
        try q.kevent(changes: [user(1, .add, fflags: .trigger, data: 3), user(2, .add, fflags: .trigger)])
        for _ in 0..<5 {
            let events = try poll(q, capacity: 8)
            #expect(Set(events.map(\.ident)) == [1, 2])
            #expect(events.first { $0.ident == 1 }?.data == 3)
            #expect(events.allSatisfy { !$0.flags.contains(.clear) })
        }
        // Darwin: a later change carrying EV_CLEAR does not un-trigger it, nor does re-adding with EV_CLEAR.
        try q.kevent(changes: [user(1, .clear), user(1, [.add, .clear])])
        #expect(try poll(q, capacity: 8).contains { $0.ident == 1 })
        #expect(try poll(q, capacity: 8).contains { $0.ident == 1 })

        try q.kevent(changes: [user(1, .disable), user(2, .delete)])
        #expect(try poll(q, capacity: 8).isEmpty)
        // Still triggered: enabling it brings it back.
        try q.kevent(changes: [user(1, .enable)])
        #expect(try poll(q, capacity: 8).map(\.ident) == [1])
        #expect(try poll(q, capacity: 8).map(\.ident) == [1])
    }

    @Test("a trigger while disabled is remembered and delivered at EV_ENABLE")
    func triggerWhileDisabled() throws {
        let q = try KQueue()
        try q.kevent(changes: [user(1, [.add, .clear, .disable])])
        try q.kevent(changes: [user(1, fflags: KEvent.FilterFlags.ffor.union(.trigger).union(.init(rawValue: 0x30)), data: 11)])
        #expect(try poll(q, timeout: .milliseconds(50)).isEmpty)
        let events = try kevent(q, [user(1, .enable, data: 12)], capacity: 4, timeout: .zero)
        #expect(events.map(\.ident) == [1])
        #expect(low(events.first?.fflags) == 0x30)
        #expect(events.first?.data == 12)
        #expect(try poll(q).isEmpty)

        // Also when it was triggered, then disabled before being retrieved.
        try q.kevent(changes: [user(1, fflags: .trigger), user(1, .disable)])
        #expect(try poll(q).isEmpty)
        try q.kevent(changes: [user(1, .enable)])
        #expect(try poll(q).map(\.ident) == [1])
    }

    @Test("EV_DISPATCH with EV_CLEAR: delivered once, disabled, and nothing fires at EV_ENABLE until the next trigger")
    func dispatchWithClear() throws {
        let q = try KQueue()
        try q.kevent(changes: [user(1, [.add, .clear, .dispatch], fflags: .trigger)])
        let first = try poll(q)
        #expect(first.count == 1)
        #expect(first.first?.flags.contains(.dispatch) == true)
        try q.kevent(changes: [user(1, fflags: .trigger)])
        #expect(try poll(q).isEmpty)  // disabled; the trigger is remembered
        try q.kevent(changes: [user(1, .enable)])
        #expect(try poll(q).count == 1)  // the remembered trigger
        try q.kevent(changes: [user(1, .enable)])
        #expect(try poll(q).isEmpty)  // retrieved with EV_CLEAR: nothing left
        // EV_ENABLE|NOTE_TRIGGER re-arms and fires in one change.
        try q.kevent(changes: [user(1, .enable, fflags: .trigger)])
        #expect(try poll(q).count == 1)
        #expect(try poll(q).isEmpty)
        // EV_ADD alone does not re-enable a dispatched knote.
        try q.kevent(changes: [user(1, .add, fflags: .trigger)])
        #expect(try poll(q).isEmpty)
        try q.kevent(changes: [user(1, .enable)])
        #expect(try poll(q).count == 1)
    }

    @Test("EV_DISPATCH without EV_CLEAR: delivered once, disabled, and delivered again at EV_ENABLE")
    func dispatchWithoutClear() throws {
        let q = try KQueue()
        try q.kevent(changes: [user(1, [.add, .dispatch], fflags: .trigger, data: 4)])
        #expect(try poll(q).map(\.data) == [4])
        #expect(try poll(q).isEmpty)
        try q.kevent(changes: [user(1, .enable, data: 5)])
        #expect(try poll(q).map(\.data) == [5])
        #expect(try poll(q).isEmpty)
    }

    @Test("EV_ONESHOT delivers the stored fflags and data once, then the knote is gone")
    func oneshot() throws {
        let q = try KQueue()
        try q.kevent(changes: [user(1, [.add, .oneshot], fflags: KEvent.FilterFlags(rawValue: 0x000100), data: 1)])
        #expect(try poll(q).isEmpty)
        try q.kevent(changes: [
            user(1, fflags: KEvent.FilterFlags.ffor.union(.trigger).union(.init(rawValue: 0x000001)), data: 99, udata: 6),
        ])
        let events = try poll(q)
        #expect(events.count == 1)
        #expect(low(events.first?.fflags) == 0x000101)
        #expect(events.first?.data == 99)
        #expect(events.first?.udata == 6)
        #expect(events.first?.flags.contains(.oneshot) == true)
        #expect(try poll(q).isEmpty)
        #expect(try outcome(q, user(1, fflags: .trigger)) == .noSuchFileOrDirectory)
        #expect(try outcome(q, user(1, .delete)) == .noSuchFileOrDirectory)
        // Without EV_CLEAR too.
        try q.kevent(changes: [user(2, [.add, .oneshot], fflags: .trigger)])
        #expect(try poll(q).map(\.ident) == [2])
        #expect(try poll(q).isEmpty)
    }

    @Test("EV_RECEIPT given at creation is kept in every returned event")
    func receiptSticky() throws {
        let q = try KQueue()
        let entries = try kevent(q, [user(1, [.add, .clear, .receipt], udata: 3)], capacity: 4, timeout: nil)
        #expect(entries.count == 1)
        #expect(entries.first?.data == 0)
        #expect(entries.first?.flags.isSuperset(of: [.error, .receipt]) == true)
        for data in 1...2 {
            try q.kevent(changes: [user(1, fflags: .trigger, data: data, udata: 3)])
            let events = try poll(q)
            #expect(events.count == 1)
            #expect(events.first?.data == data)
            #expect(events.first?.flags.contains(.receipt) == true)
            #expect(events.first?.flags.contains(.error) == false)
        }
    }

    @Test("EV_DELETE drops a pending trigger")
    func deleteDropsTrigger() throws {
        let q = try KQueue()
        try q.kevent(changes: [user(1, [.add, .clear], fflags: .trigger), user(2, .add, fflags: .trigger)])
        try q.kevent(changes: [user(1, .delete), user(2, .delete)])
        #expect(try poll(q).isEmpty)
        // Re-creating does not resurrect the trigger.
        try q.kevent(changes: [user(1, [.add, .clear]), user(2, .add)])
        #expect(try poll(q).isEmpty)
    }
}
