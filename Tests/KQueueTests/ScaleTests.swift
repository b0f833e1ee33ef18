import KQueue
import SystemPackage
import Testing

/// Many timers in one queue (KQUEUE.md §5.5, §12.4: one timerfd per queue, not per timer).
///
/// Serialized: the two tests are the heaviest of the suite and the descriptor count is
/// process-wide.
@Suite("Scale", .serialized)
struct ScaleTests {
    static let batch = 10_000

    /// How many pending timers the first test registers: a million in a release build. A debug
    /// build registers 200,000: there a million take about 108 s of a core on the project's
    /// 2-core machine, which starves the suites running beside it (their waits then measure the
    /// scale test, not the queue), while 200,000 take about a fifth of that. 200,000 is still
    /// ten times the machine's hard limit of open descriptors, so a queue that spent one per
    /// timer could not pass either way. `swift test -c release --filter Scale` runs the million.
    #if DEBUG
    static let pendingTimers = 200_000
    #else
    static let pendingTimers = 1_000_000
    #endif

    @Test("a million pending timers (200,000 in a debug build) in one queue use no descriptors beyond the queue's own")
    func millionTimers() async throws {
        let total = Self.pendingTimers
        let before = openDescriptorCount()
        let q = try KQueue()
        let withQueue = openDescriptorCount()
        #if os(Linux)
        let registrations = epollRegistrations(q.descriptor)
        #endif

        // Long periods in every unit, absolute deadlines far ahead: none fires during the test.
        let farDeadline = wallClock() / 1_000_000_000 + 7 * 86_400
        func change(_ i: Int, _ flags: KEvent.Flags) -> KEvent {
            switch i % 5 {
            case 0: timer(UInt(i), flags, data: 3_600_000 + i % 1000, udata: UInt(i))
            case 1: timer(UInt(i), flags, fflags: .seconds, data: 7200 + i % 977, udata: UInt(i))
            case 2: timer(UInt(i), flags, fflags: .useconds, data: 3_600_000_000 + i, udata: UInt(i))
            case 3: timer(UInt(i), flags, fflags: .nseconds, data: 3_600_000_000_000 + i, udata: UInt(i))
            default: timer(UInt(i), flags.union(.oneshot), fflags: [.absolute, .seconds], data: Int(farDeadline) + i % 60)
            }
        }
        for start in stride(from: 0, to: total, by: Self.batch) {
            try q.kevent(changes: (start..<start + Self.batch).map { change($0, .add) })
            await Task.yield()  // the pool has one thread per core: let other tests run
        }
        let withTimers = openDescriptorCount()
        // Allow for descriptors that tests running in parallel may hold at this instant; one per
        // timer would be a million (or EMFILE).
        #expect(withTimers - withQueue <= 64, "descriptors: \(before) → \(withQueue) → \(withTimers)")
        #if os(Linux)
        #expect(registrations != nil)
        #expect(epollRegistrations(q.descriptor) == registrations)
        #endif

        // None fires; a short timer added now still fires, in time and alone.
        let start = now()
        try q.kevent(changes: [timer(UInt(total), [.add, .oneshot], data: 30)])
        let (events, at) = try waitForEvents(q, capacity: 64, limit: .seconds(30))
        #expect(events.map(\.ident) == [UInt(total)])
        #expect(at - start >= ms(30))
        #expect(try poll(q, capacity: 64).isEmpty)

        // Every one of them is registered exactly once: deleting each succeeds.
        var failures = 0
        var entries = [KEvent](repeating: KEvent(), count: Self.batch)
        for start in stride(from: 0, to: total, by: Self.batch) {
            let written = try q.kevent(
                changes: (start..<start + Self.batch).map { change($0, .delete) }, events: &entries, timeout: .zero)
            failures += written
            await Task.yield()
        }
        #expect(failures == 0)
        #expect(try outcome(q, timer(0, .delete, data: 0)) == .noSuchFileOrDirectory)
        #expect(try outcome(q, timer(UInt(total - 1), .delete, data: 0)) == .noSuchFileOrDirectory)
        #expect(try poll(q, capacity: 64).isEmpty)
        q.close()
        #expect(openDescriptorCount() - before <= 64)
    }

    @Test("100,000 oneshot timers of 1…200 ms are each returned exactly once, none early")
    func manyOneshots() throws {
        let total = 100_000
        let q = try KQueue()
        // Registration time of each batch, taken before its kevent call.
        var registered = [Int64](repeating: 0, count: total)
        for start in stride(from: 0, to: total, by: Self.batch) {
            let at = now()
            for i in start..<start + Self.batch { registered[i] = at }
            try q.kevent(
                changes: (start..<start + Self.batch).map { i in
                    let delay = 1 + (i * 7919) % 200  // ms, scattered over 1…200
                    return timer(UInt(i), [.add, .oneshot], data: delay, udata: UInt(delay))
                })
        }
        var seen = [UInt8](repeating: 0, count: total)
        var received = 0
        var early = 0
        var badData = 0
        var unknown = 0
        var buffer = [KEvent](repeating: KEvent(), count: 4096)
        let deadline = now() + ms(60_000)
        while received < total && now() < deadline {
            let count = try q.kevent(changes: [], events: &buffer, timeout: .seconds(1))
            let at = now()
            for event in buffer.prefix(count) {
                guard event.filter == .timer, event.ident < total else {
                    unknown += 1
                    continue
                }
                let i = Int(event.ident)
                seen[i] &+= 1
                received += 1
                if at - registered[i] < ms(Int64(event.udata)) { early += 1 }
                if event.data != 1 || event.udata != UInt(1 + (i * 7919) % 200) { badData += 1 }
            }
        }
        #expect(received == total, "\(received) of \(total) oneshot timers returned within 60 s")
        #expect(seen.allSatisfy { $0 == 1 })
        #expect(early == 0)
        #expect(badData == 0)
        #expect(unknown == 0)
        #expect(try poll(q, capacity: 64, timeout: .milliseconds(20)).isEmpty)
        #expect(try outcome(q, timer(0, .delete, data: 0)) == .noSuchFileOrDirectory)
    }
}
