#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KQueue
import SystemPackage
import TestSupport
import Testing

/// Many timers in one queue (KQUEUE.md §5.5, §12.4: one timerfd per queue, not per timer).
///
/// Serialized: the two tests are the heaviest of the suite and the descriptor count is
/// process-wide.
@Suite("Scale", .serialized, .blocking)
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

    @Test("10,000 watched files in one queue take one descriptor beyond the files (one inotify, one watch each)")
    func tenThousandFiles() async throws {
        let total = 10_000
        try raiseDescriptorLimit(to: total + 2_000)
        let dir = try ScratchDirectory("scale")
        var files: [CInt] = []
        defer { for fd in files { close(fd) } }
        for i in 0..<total {
            files.append(try dir.create("f\(i)"))
            if i % 1000 == 999 { await Task.yield() }
        }
        let q = try KQueue()
        let before = openDescriptorCount()
        #if os(Linux)
        let registrations = try #require(epollRegistrations(q.descriptor))
        #endif
        for start in stride(from: 0, to: total, by: Self.batch) {
            let changes = files[start..<min(start + Self.batch, total)].map { vnodeEvent($0, udata: UInt($0)) }
            #expect(try register(q, changes).isEmpty)
            await Task.yield()
        }
        let after = openDescriptorCount()
        // One descriptor (the inotify one); allow for what tests running in parallel hold at this
        // instant; one per file would be 10,000.
        #expect(after - before <= 64, "descriptors: \(before) → \(after)")
        #if os(Linux)
        #expect(epollRegistrations(q.descriptor) == registrations + 1)
        let inotify = try #require(inotifyDescriptor(of: q))
        #expect(inotifyWatches(inotify) == total)
        #endif

        // Every hundredth file is written: exactly those come back, once each.
        let written = stride(from: 0, to: total, by: 100).map { files[$0] }
        for fd in written { writeBytes(fd, 1) }
        var seen: [UInt: KEvent.FilterFlags] = [:]
        var buffer = [KEvent](repeating: KEvent(), count: 256)
        let deadline = now() + ms(30_000)
        while seen.count < written.count && now() < deadline {
            let n = try q.kevent(changes: [], events: &buffer, timeout: .seconds(1))
            for event in buffer.prefix(n) {
                #expect(seen[event.ident] == nil)
                seen[event.ident] = event.fflags
            }
        }
        #expect(seen == Dictionary(uniqueKeysWithValues: written.map { (UInt($0), [.write, .extend]) }))
        #expect(try poll(q, capacity: 64).isEmpty)

        // EV_DELETE removes every watch.
        for start in stride(from: 0, to: total, by: Self.batch) {
            let changes = files[start..<min(start + Self.batch, total)].map { vnodeEvent($0, .delete) }
            #expect(try register(q, changes).isEmpty)
        }
        #if os(Linux)
        #expect(inotifyWatches(inotify) == 0)
        #endif
        q.close()
    }

    /// Raises the soft limit of open descriptors to `count` if it is lower (and the hard limit
    /// allows it).
    private func raiseDescriptorLimit(to count: Int) throws {
        #if canImport(Glibc)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        var limit = rlimit()
        try #require(getrlimit(resource, &limit) == 0)
        guard limit.rlim_cur < rlim_t(count) else { return }
        try #require(limit.rlim_max >= rlim_t(count), "the hard limit of open descriptors is \(limit.rlim_max)")
        limit.rlim_cur = rlim_t(count)
        try #require(setrlimit(resource, &limit) == 0)
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
