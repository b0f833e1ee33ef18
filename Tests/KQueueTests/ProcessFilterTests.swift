#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KQueue
import SystemPackage
import TestSupport
import Testing

/// EVFILT_PROC with NOTE_EXIT, darwin profile (KQUEUE.md §7.4), and fork(2) (§2).
@Suite("EVFILT_PROC", .blocking)
struct ProcessFilterTests {
    func processEvent(_ pid: pid_t, _ flags: KEvent.Flags = [.add], fflags: KEvent.FilterFlags = [.exit, .exitStatus])
        -> KEvent
    {
        KEvent(ident: UInt(pid), filter: .proc, flags: flags, fflags: fflags, udata: 6)
    }

    @Test("NOTE_EXIT: fires once at exit with EV_EOF and EV_ONESHOT; NOTE_EXITSTATUS puts the wait status in data")
    func exitStatus() throws {
        let pid = try spawnShell("sleep 0.1; exit 3")
        let q = try KQueue()
        try q.kevent(changes: [processEvent(pid)])
        #expect(try poll(q).isEmpty)
        let event = try #require(waitForEvents(q).events.first)
        #expect(event.ident == UInt(pid) && event.filter == .proc)
        #expect(event.fflags.contains(.exit))
        #expect(event.data == 3 << 8)
        #expect(event.udata == 6)
        #expect(event.flags.isSuperset(of: [.eof, .oneshot]))
        // Deleted once returned.
        #expect(try outcome(q, processEvent(pid, .delete)) == .noSuchFileOrDirectory)
        // Not reaped: the status is still there for waitpid.
        let status = reap(pid)
        #expect(status == 3 << 8)
    }

    @Test("without NOTE_EXITSTATUS data is 0 (darwin)")
    func noExitStatus() throws {
        let pid = try spawnShell("exit 4")
        defer { reap(pid) }
        let q = try KQueue()
        try q.kevent(changes: [processEvent(pid, fflags: .exit)])
        let event = try #require(waitForEvents(q).events.first)
        #expect(event.fflags.contains(.exit))
        #expect(event.data == 0)
    }

    @Test("a child that already exited (not reaped) fires at once")
    func alreadyExited() throws {
        let pid = try spawnShell("exit 5")
        defer { reap(pid) }
        waitUntilExited(pid)
        let q = try KQueue()
        let events = try kevent(q, [processEvent(pid)], capacity: 4, timeout: .zero)
        #expect(events.map(\.data) == [5 << 8])
    }

    @Test("a child killed by a signal: data is the signal number")
    func killed() throws {
        let pid = try spawnShell("exec sleep 30")
        defer { reap(pid) }
        let q = try KQueue()
        try q.kevent(changes: [processEvent(pid)])
        kill(pid, SIGKILL)
        let event = try #require(waitForEvents(q).events.first)
        #expect(event.data == Int(SIGKILL))
    }

    @Test("an exit while the knote is disabled is returned at EV_ENABLE")
    func disabled() throws {
        let pid = try spawnShell("exit 0")
        defer { reap(pid) }
        let q = try KQueue()
        try q.kevent(changes: [processEvent(pid, [.add, .disable])])
        waitUntilExited(pid)
        #expect(try poll(q, timeout: .milliseconds(20)).isEmpty)
        try q.kevent(changes: [processEvent(pid, .enable)])
        #expect(try poll(q).count == 1)
    }

    // MARK: The requested fflags (KQUEUE.md §7.4: macOS filt_procevent records an event only if
    // the knote asks for it, and fires only with recorded fflags; filt_proctouch replaces them)

    @Test("re-adding with fflags 0 disarms the knote: the exit is not returned, not even once asked for again")
    func disarmedByReAdding() throws {
        let pid = try spawnShell("sleep 0.2")
        defer { reap(pid) }
        let q = try KQueue()
        try q.kevent(changes: [processEvent(pid, fflags: .exit)])
        try q.kevent(changes: [processEvent(pid, fflags: [])])
        waitUntilExited(pid)
        #expect(try poll(q, timeout: .milliseconds(100)).isEmpty)
        // The exit happened while nothing was asked for; asking afterwards does not bring it back.
        try q.kevent(changes: [processEvent(pid, fflags: .exit)])
        #expect(try poll(q, timeout: .milliseconds(20)).isEmpty)
        // The knote is still there.
        #expect(try deleteSucceeds(q, ident: UInt(pid), filter: .proc))
    }

    @Test("disarmed and armed again before the exit, the knote fires with what the last change asked for")
    func rearmed() throws {
        let pid = try spawnShell("sleep 0.2; exit 7")
        defer { reap(pid) }
        let q = try KQueue()
        try q.kevent(changes: [processEvent(pid, fflags: .exit)])
        try q.kevent(changes: [processEvent(pid, fflags: [])])
        try q.kevent(changes: [processEvent(pid, fflags: [.exit, .exitStatus])])
        let event = try #require(waitForEvents(q).events.first)
        #expect(event.fflags.contains(.exit))
        #expect(event.data == 7 << 8)
        #expect(event.flags.isSuperset(of: [.eof, .oneshot]))
    }

    @Test("an exit recorded with NOTE_EXIT is still returned after a change to fflags 0 (filt_proctouch keeps it)")
    func recordedExitKept() throws {
        let pid = try spawnShell("exit 0")
        defer { reap(pid) }
        let q = try KQueue()
        try q.kevent(changes: [processEvent(pid, [.add, .disable], fflags: .exit)])
        waitUntilExited(pid)
        #expect(try poll(q, timeout: .milliseconds(20)).isEmpty)
        try q.kevent(changes: [processEvent(pid, [.add, .enable], fflags: [])])
        let events = try poll(q)
        #expect(events.count == 1)
        #expect(events.first?.fflags.contains(.exit) == true)
    }

    @Test("a child that already exited, added with fflags 0, does not fire")
    func zombieWithoutFlags() throws {
        let pid = try spawnShell("exit 5")
        defer { reap(pid) }
        waitUntilExited(pid)
        let q = try KQueue()
        #expect(try kevent(q, [processEvent(pid, fflags: [])], capacity: 4, timeout: .zero).isEmpty)
        #expect(try poll(q, timeout: .milliseconds(20)).isEmpty)
        #expect(try deleteSucceeds(q, ident: UInt(pid), filter: .proc))
    }

    @Test("a child added with fflags 0 does not fire when it exits")
    func exitWithoutFlags() throws {
        let pid = try spawnShell("sleep 0.1")
        defer { reap(pid) }
        let q = try KQueue()
        try q.kevent(changes: [processEvent(pid, fflags: [])])
        waitUntilExited(pid)
        #expect(try poll(q, timeout: .milliseconds(100)).isEmpty)
    }

    @Test("a process that does not exist is ESRCH")
    func noSuchProcess() throws {
        let pid = try spawnShell("exit 0")
        reap(pid)
        let q = try KQueue()
        #expect(try outcome(q, processEvent(pid)) == .noSuchProcess)
    }

    #if os(Linux)
    @Test("NOTE_FORK, NOTE_EXEC and other bits are EINVAL (Linux: only NOTE_EXIT is emulated)")
    func unsupportedNotes() throws {
        let pid = try spawnShell("exec sleep 30")
        defer {
            kill(pid, SIGKILL)
            reap(pid)
        }
        let q = try KQueue()
        for bit: UInt32 in [0x4000_0000, 0x2000_0000, 0x0800_0000] {
            let change = processEvent(pid, fflags: KEvent.FilterFlags(rawValue: bit).union(.exit))
            #expect(try outcome(q, change) == .invalidArgument)
        }
    }
    #endif

    // MARK: The test process's descriptors

    @Test("a spawned child holds none of the test process's descriptors: a pipe's writer closed while it runs is EV_EOF")
    func childHoldsNoDescriptors() throws {
        // Suites run in parallel: a child spawned by one test while another test's pipe or socket
        // is open must not keep it open, or closing it there is never end-of-file (nor a reset).
        // Not close-on-exec, like most descriptors a program opens; numbered from 64 up, since
        // Swift Testing's exit-test children keep the parent's descriptors 3 to 8.
        var fds: [CInt] = [-1, -1]
        try #require(pipe(&fds) == 0)
        let (r, w) = (fcntl(fds[0], F_DUPFD, 64), fcntl(fds[1], F_DUPFD, 64))
        close(fds[0])
        close(fds[1])
        try #require(r >= 64 && w >= 64)
        defer { close(r) }
        let pid = try spawnShell("exec sleep 30")
        defer {
            kill(pid, SIGKILL)
            reap(pid)
        }
        close(w)
        let q = try KQueue()
        try q.kevent(changes: [readEvent(r, [.add, .oneshot])])
        // The limit is far below the child's 30 s: a child that holds the writer fails the test.
        let event = try #require(waitForEvents(q, limit: .seconds(10)).events.first)
        #expect(event.ident == UInt(r) && event.flags.contains(.eof) && event.data == 0)
    }

    #if os(Linux)
    @Test("a spawned child's standard input and outputs are /dev/null, never the test runner's output")
    func childHasNoRunnerOutput() throws {
        // A child that outlived the test process (a test that died before its kill, say) and
        // held the runner's output pipe would keep `swift test` waiting for the end of that
        // output, with the test process exited and not reaped.
        let pid = try spawnShell("exec sleep 30")
        defer {
            kill(pid, SIGKILL)
            reap(pid)
        }
        for fd in 0...2 {
            var buffer = [CChar](repeating: 0, count: 256)
            let count = readlink("/proc/\(pid)/fd/\(fd)", &buffer, buffer.count - 1)
            try #require(count > 0)
            let target = String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            #expect(target == "/dev/null", "descriptor \(fd) of the child is \(target)")
        }
    }
    #endif

    // MARK: fork(2)

    @Test("a forked child cannot use its parent's queue (EBADF, descriptor -1) and takes none of its events")
    func forkedChild() throws {
        let (r, w) = try makePipe()
        defer { close(r); close(w) }
        let q = try KQueue()
        try q.kevent(changes: [readEvent(r, [.add, .clear]), user(1, [.add, .clear])])
        writeBytes(w, 3)  // an epoll event not yet harvested
        var buffer = [KEvent](repeating: KEvent(), count: 4)
        let pid = fork()
        if pid == 0 {
            // The child: only async-signal-safe work, then _exit.
            var code: CInt = 0
            if q.descriptor != -1 { code |= 1 }
            do throws(Errno) {
                _ = try q.kevent(changes: [], events: &buffer, timeout: .zero)
                code |= 2
            } catch {
                if error != .badFileDescriptor { code |= 4 }
            }
            _exit(code)
        }
        try #require(pid > 0)
        let status = reap(pid)
        #expect(status == 0, "child exit code \(status >> 8): 1 = descriptor, 2 = kevent worked, 4 = other error")
        try q.kevent(changes: [user(1, fflags: .trigger)])
        let events = try poll(q)
        #expect(Set(events.map(\.filter)) == [.read, .user])
    }
}
