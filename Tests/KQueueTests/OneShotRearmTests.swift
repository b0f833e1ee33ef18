#if os(Linux)
@preconcurrency import Glibc
import KQueue
import SystemPackage
import TestSupport
import Testing

/// A delivered one-shot read or write knote leaves its direction's epoll registration parked,
/// and the next knote of that direction re-arms it (``DescriptorFilter/retire(_:from:)``): what
/// an event loop's waits do, one one-shot knote after another. The re-armed knote must behave as
/// a fresh one, and a parked registration must never outlive its use. Changes are made without
/// an event list, so that the events come from the polls.
@Suite("One-shot knotes re-armed on a parked registration (Linux)", .blocking)
struct OneShotRearmTests {
    @Test("a one-shot read knote after a delivered one fires on new data only, each time", arguments: [false, true])
    func rearmedReadFiresOnNewData(socket: Bool) throws {
        let queue = try KQueue()
        defer { try? queue.close() }
        let (reader, writer) = try socket ? makeSocketPair() : makePipe()
        defer { close(reader); close(writer) }
        for round in 1...3 {
            try queue.kevent(changes: [readEvent(reader, [.add, .oneshot], udata: UInt(round))])
            #expect(try poll(queue).isEmpty, "round \(round): nothing to read yet")
            #expect(writeBytes(writer, round) == round)
            let events = try poll(queue)
            #expect(events.count == 1)
            #expect(events.first?.data == round && events.first?.udata == UInt(round))
            #expect(try poll(queue).isEmpty, "round \(round): a one-shot knote fires once")
            #expect(readBytes(reader, round) == round)
        }
        // Data already waiting when the next knote is added is reported at once.
        #expect(writeBytes(writer, 5) == 5)
        try queue.kevent(changes: [readEvent(reader, [.add, .oneshot])])
        #expect(try poll(queue).map(\.data) == [5])
    }

    @Test("a one-shot write knote after a delivered one reports the space at once")
    func rearmedWrite() throws {
        let queue = try KQueue()
        defer { try? queue.close() }
        let (reader, writer) = try makePipe()
        defer { close(reader); close(writer) }
        for _ in 1...3 {
            try queue.kevent(changes: [writeEvent(writer, [.add, .oneshot])])
            let events = try poll(queue)
            #expect(events.count == 1 && events.first?.filter == .write && (events.first?.data ?? 0) > 0)
        }
        // A full pipe: the re-armed knote waits until space is freed.
        let filled = fill(writer)
        try queue.kevent(changes: [writeEvent(writer, [.add, .oneshot])])
        #expect(try poll(queue).isEmpty)
        #expect(readBytes(reader, filled) == filled)
        #expect(try waitForEvents(queue).events.first?.filter == .write)
    }

    @Test("a parked registration goes at the first edge nobody waits for, and EV_DELETE of the last knote removes it")
    func parkedRegistrationGoes() throws {
        let queue = try KQueue()
        defer { try? queue.close() }
        let (reader, writer) = try makePipe()
        defer { close(reader); close(writer) }
        let before = try #require(epollTargets(queue.descriptor))
        try queue.kevent(changes: [readEvent(reader, [.add, .oneshot])])
        #expect(writeBytes(writer, 1) == 1)
        #expect(try poll(queue).count == 1)
        // Delivered: the read registration is parked, still in the set.
        #expect(epollTargets(queue.descriptor)?.contains(reader) == true)
        #expect(readBytes(reader, 1) == 1)
        // An edge with no knote waiting: reported to nobody, and the registration goes.
        #expect(writeBytes(writer, 1) == 1)
        #expect(try poll(queue).isEmpty)
        #expect(epollTargets(queue.descriptor) == before)
        // Waiting again works as for a new descriptor: the byte is there.
        try queue.kevent(changes: [readEvent(reader, [.add, .oneshot])])
        #expect(try poll(queue).map(\.data) == [1])
        // A parked registration and a live knote of the other direction: deleting that knote
        // leaves nothing in the set.
        try queue.kevent(changes: [writeEvent(reader, [.add])])
        try queue.kevent(changes: [writeEvent(reader, [.delete])])
        #expect(epollTargets(queue.descriptor)?.contains(reader) == false)
    }

    @Test("a descriptor closed while parked and its number reused: the new knote watches the new file")
    func parkedAndReused() throws {
        let queue = try KQueue()
        defer { try? queue.close() }
        let old = try makePipe()
        defer { close(old.write) }
        try queue.kevent(changes: [readEvent(old.read, [.add, .oneshot])])
        #expect(writeBytes(old.write, 1) == 1)
        #expect(try poll(queue).count == 1)
        // The old file stays open through a duplicate, so its parked registration stays in the
        // set; the number then names a new pipe's read end.
        let keeper = dup(old.read)
        defer { close(keeper) }
        let number = old.read
        let new = try makePipe()
        defer { close(new.write) }
        #expect(dup2(new.read, number) == number)
        close(new.read)
        defer { close(number) }
        try queue.kevent(changes: [readEvent(number, [.add, .oneshot], udata: 7)])
        #expect(try poll(queue).isEmpty, "the old file's waiting byte is not the new file's")
        #expect(writeBytes(old.write, 1) == 1)
        #expect(try poll(queue).isEmpty, "an edge of the old file is not the new file's")
        #expect(writeBytes(new.write, 3) == 3)
        let events = try poll(queue)
        #expect(events.map(\.data) == [3] && events.first?.udata == 7)
    }
}
#endif
