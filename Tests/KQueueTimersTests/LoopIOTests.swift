#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KQueue
@testable import KQueueTimers
import SystemPackage
import TestSupport
import Testing

// Helpers of the loop's I/O suites; names start with `io` so they cannot clash with others.

/// Makes a test's descriptor close-on-exec: no child of the test process (one that another
/// suite spawns, running in parallel) keeps it open after the test closes it.
private func ioCloseOnExec(_ fd: CInt) {
    _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
}

/// Makes a test's descriptor non-blocking and close-on-exec.
private func ioConfigure(_ fd: CInt) {
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    ioCloseOnExec(fd)
}

private func ioPipe() throws -> (read: CInt, write: CInt) {
    var fds: [CInt] = [0, 0]
    try #require(pipe(&fds) == 0)
    for fd in fds { ioConfigure(fd) }
    return (fds[0], fds[1])
}

private func ioSocketPair() throws -> (CInt, CInt) {
    var fds: [CInt] = [0, 0]
    #if canImport(Glibc)
    let type = CInt(SOCK_STREAM.rawValue)
    #else
    let type = SOCK_STREAM
    #endif
    try #require(socketpair(AF_UNIX, type, 0, &fds) == 0)
    for fd in fds { ioConfigure(fd) }
    return (fds[0], fds[1])
}

private func ioWrite(_ fd: CInt, _ count: Int) -> Int {
    let bytes = [UInt8](repeating: 7, count: count)
    return bytes.withUnsafeBytes { write(fd, $0.baseAddress, count) }
}

/// Fills a pipe or socket until it would block.
private func ioFill(_ fd: CInt) -> Int {
    var total = 0
    while case let written = ioWrite(fd, 65536), written > 0 { total += written }
    return total
}

private func ioDrain(_ fd: CInt) -> Int {
    var buffer = [UInt8](repeating: 0, count: 65536)
    var total = 0
    while case let count = read(fd, &buffer, buffer.count), count > 0 { total += count }
    return total
}

#if os(Linux)
/// The name of process `pid` (/proc/PID/comm), "" if it cannot be read.
private func ioProcessName(_ pid: pid_t) -> String {
    let fd = open("/proc/\(pid)/comm", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 64)
    let count = read(fd, &buffer, buffer.count)
    guard count > 0 else { return "" }
    return String(decoding: buffer[..<count].prefix { $0 != 10 }, as: UTF8.self)
}
#endif

/// Waits (up to 60 s: the limit only keeps a failing test from hanging) until `condition`.
private func ioEventually(_ condition: () async -> Bool) async throws {
    for _ in 0..<60_000 {
        if await condition() { return }
        try await Task.sleep(for: .milliseconds(1))
    }
    Issue.record("condition not met within 60 s")
}

@Suite("KQueueLoop: readable and writable")
struct LoopReadinessTests {
    @Test("readable waits for data on a pipe and reports the bytes waiting, on the loop's thread")
    func pipeData() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let (reader, writer) = try ioPipe()
        defer { close(reader); close(writer) }
        let task = Task(executorPreference: loop) { () -> (Readiness, Bool) in
            let readiness = try await loop.readable(reader)
            return (readiness, loop.isCurrent)
        }
        try await ioEventually { await loop.eventRegistrationCount == 1 }
        #expect(ioWrite(writer, 100) == 100)
        let (readiness, onLoop) = try await task.value
        #expect(readiness == Readiness(count: 100))
        #expect(onLoop)
        #expect(await loop.eventRegistrationCount == 0)
    }

    @Test("a wait is served while timers keep coming due and jobs keep coming: the loop polls the kernel when busy")
    func busyLoopServesWaits() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let (reader, writer) = try ioPipe()
        defer { close(reader); close(writer) }
        #expect(ioWrite(writer, 10) == 10)
        let isDone = Locked(false)
        let turns = Locked(0)
        let gaveUp = Locked(false)
        // When the wait began, on the loop; the timers stop coming due 30 s after it (keeping a
        // starved wait from hanging), however late the test itself gets to start it.
        let waitBegan = Locked<KQueueClock.Instant?>(nil)
        // A timer that is due again every time it runs, until the wait ends: the loop never
        // has a turn without due timers.
        @Sendable func keepBusy() {
            turns.withLock { $0 += 1 }
            guard !isDone.withLock({ $0 }) else { return }
            if let began = waitBegan.withLock({ $0 }), began.duration(to: loop.now) > .seconds(30) {
                gaveUp.withLock { $0 = true }
                return
            }
            loop.schedule(at: loop.now.advanced(by: .milliseconds(-1))) { keepBusy() }  // due at once
        }
        #expect(loop.execute { keepBusy() })
        try await ioEventually { turns.withLock { $0 } >= 100 }
        let readiness = try await Task(executorPreference: loop) { () throws -> Readiness in
            waitBegan.withLock { $0 = loop.now }
            let readiness = try await loop.readable(reader)
            isDone.withLock { $0 = true }
            return readiness
        }.value
        #expect(readiness.count == 10)
        #expect(!gaveUp.withLock { $0 }, "the wait was served only once the timers stopped coming due")
        // And while jobs keep coming (a task that yields forever).
        let spinner = Task(executorPreference: loop) {
            while !Task.isCancelled { await Task.yield() }
        }
        defer { spinner.cancel() }
        let again = try await Task(executorPreference: loop) { try await loop.readable(reader) }.value
        #expect(again.count == 10)
    }

    @Test("readable reports end-of-file when the last writer is gone")
    func pipeEndOfFile() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let (reader, writer) = try ioPipe()
        defer { close(reader) }
        let task = Task(executorPreference: loop) { try await loop.readable(reader) }
        try await ioEventually { await loop.eventRegistrationCount == 1 }
        close(writer)
        let readiness = try await task.value
        #expect(readiness.isEndOfFile && readiness.count == 0 && readiness.error == nil)
    }

    @Test("a connection reset is end-of-file with ECONNRESET")
    func resetIsError() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let listener = socket(AF_INET, CInt(ioStream), 0)
        defer { close(listener) }
        ioCloseOnExec(listener)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                try #require(bind(listener, raw, length) == 0)
                try #require(listen(listener, 4) == 0)
                try #require(getsockname(listener, raw, &length) == 0)
            }
        }
        let client = socket(AF_INET, CInt(ioStream), 0)
        ioCloseOnExec(client)
        try withUnsafePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                try #require(connect(client, raw, length) == 0)
            }
        }
        let server = accept(listener, nil, nil)
        try #require(server >= 0)
        defer { close(server) }
        ioCloseOnExec(server)
        let task = Task(executorPreference: loop) { try await loop.readable(server) }
        try await ioEventually { await loop.eventRegistrationCount == 1 }
        var linger = linger(l_onoff: 1, l_linger: 0)
        setsockopt(client, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<linger>.size))
        close(client)
        let readiness = try await task.value
        #expect(readiness.isEndOfFile)
        #expect(readiness.error == .connectionReset)
    }

    @Test("writable waits for space in a full pipe; a read and a write wait on one socket at once")
    func writableAndBoth() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let (reader, writer) = try ioPipe()
        defer { close(reader); close(writer) }
        #expect(ioFill(writer) > 0)
        let task = Task(executorPreference: loop) { try await loop.writable(writer) }
        try await ioEventually { await loop.eventRegistrationCount == 1 }
        #expect(ioDrain(reader) > 0)
        #expect(try await task.value.count > 0)

        let (a, b) = try ioSocketPair()
        defer { close(a); close(b) }
        let reading = Task(executorPreference: loop) { try await loop.readable(a) }
        try await ioEventually { await loop.eventRegistrationCount == 1 }
        // The socket is writable at once, while the read wait goes on.
        #expect(try await Task(executorPreference: loop) { try await loop.writable(a) }.value.count > 0)
        #expect(await loop.eventRegistrationCount == 1)
        #expect(ioWrite(b, 10) == 10)
        #expect(try await reading.value.count == 10)
    }

    @Test("a task off the loop may wait too; several waiters of one descriptor all resume")
    func offLoopAndShared() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let (reader, writer) = try ioPipe()
        defer { close(reader); close(writer) }
        let waiters = (0..<3).map { _ in Task { try await loop.readable(reader) } }
        try await ioEventually { await loop.eventRegistrationCount == 1 }
        #expect(ioWrite(writer, 5) == 5)
        for waiter in waiters { #expect(try await waiter.value.count == 5) }
    }

    @Test("cancellation throws CancellationError and removes the knote; a later wait works")
    func cancellation() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let (reader, writer) = try ioPipe()
        defer { close(reader); close(writer) }
        let task = Task(executorPreference: loop) { try await loop.readable(reader) }
        try await ioEventually { await loop.eventRegistrationCount == 1 }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        try await ioEventually { await loop.eventRegistrationCount == 0 }
        let again = Task(executorPreference: loop) { try await loop.readable(reader) }
        try await ioEventually { await loop.eventRegistrationCount == 1 }
        #expect(ioWrite(writer, 3) == 3)
        #expect(try await again.value.count == 3)
        // A task cancelled before it waits never registers.
        let early = Task(executorPreference: loop) { () -> Readiness in
            withUnsafeCurrentTask { $0?.cancel() }
            return try await loop.readable(reader)
        }
        await #expect(throws: CancellationError.self) { try await early.value }
    }

    @Test("a descriptor that is not open is EBADF, never a hang")
    func closedDescriptor() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let (reader, writer) = try ioPipe()
        close(reader)
        close(writer)
        for fd in [CInt(999_999), -1] {
            let task = Task(executorPreference: loop) { try await loop.readable(fd) }
            await #expect(throws: Errno.badFileDescriptor) { try await task.value }
        }
        #expect(await loop.eventRegistrationCount == 0)
    }

    @Test("1,000 tasks wait on 1,000 pipes at once; each resumes with its own count")
    func thousandWaiters() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let pipes = try (0..<1000).map { _ in try ioPipe() }
        defer { for (r, w) in pipes { close(r); close(w) } }
        let tasks = pipes.map { pipe in Task(executorPreference: loop) { try await loop.readable(pipe.read).count } }
        try await ioEventually { await loop.eventRegistrationCount == 1000 }
        for (index, pipe) in pipes.enumerated() { #expect(ioWrite(pipe.write, index % 50 + 1) == index % 50 + 1) }
        for (index, task) in tasks.enumerated() { #expect(try await task.value == index % 50 + 1) }
        #expect(await loop.eventRegistrationCount == 0)
    }

    @Test("shutdown resumes waiting tasks with CancellationError")
    func shutdownEndsWaits() async throws {
        let loop = try KQueueLoop()
        let (reader, writer) = try ioPipe()
        defer { close(reader); close(writer) }
        let task = Task(executorPreference: loop) { try await loop.readable(reader) }
        try await ioEventually { await loop.eventRegistrationCount == 1 }
        loop.shutdown()
        await #expect(throws: CancellationError.self) { try await task.value }
    }
}

#if canImport(Glibc)
private let ioStream = SOCK_STREAM.rawValue
#else
private let ioStream = SOCK_STREAM
#endif

@Suite("KQueueLoop: process exits")
struct LoopProcessTests {
    /// Starts `/bin/sh -c script` holding none of the test process's descriptors
    /// (``spawnShell(_:)``).
    private func spawn(_ script: String) throws -> pid_t {
        try spawnShell(script)
    }

    @Test("processExit reports the exit code and the killing signal, and leaves the status for waitpid")
    func exits() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let sleeper = try spawn("exec sleep 600")
        let killed = Task(executorPreference: loop) { try await loop.processExit(sleeper) }
        try await ioEventually { await loop.eventRegistrationCount == 1 }
        #if os(Linux)
        // The process killed is the sleep itself, not a shell whose sleep would outlive it.
        try await ioEventually { ioProcessName(sleeper) == "sleep" }
        #endif
        kill(sleeper, SIGKILL)
        #expect(try await killed.value.signal == SIGKILL)
        var status: CInt = 0
        #expect(waitpid(sleeper, &status, 0) == sleeper)

        let three = try spawn("sleep 0.2; exit 3")
        let exit = try await Task(executorPreference: loop) { try await loop.processExit(three) }.value
        #expect(exit.code == 3 && exit.signal == nil)
        #expect(waitpid(three, &status, 0) == three)
    }

    @Test("a process that does not exist is ESRCH")
    func noSuchProcess() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let pid = try spawn("exit 0")
        var status: CInt = 0
        waitpid(pid, &status, 0)
        await #expect(throws: Errno.noSuchProcess) { try await loop.processExit(pid) }
    }
}

@Suite("KQueueLoop: signals", .serialized)
struct LoopSignalTests {
    /// A loop whose thread has `signals` blocked (a thread inherits its creator's mask), so a
    /// signal sent to that thread stays pending for the queue to count. SIGWINCH and SIGURG are
    /// ignored by default, so a stray delivery is harmless.
    private func makeLoop(blocking signals: [CInt]) throws -> KQueueLoop {
        var mask = sigset_t()
        sigemptyset(&mask)
        for signal in signals { sigaddset(&mask, signal) }
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &mask, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        return try KQueueLoop()
    }

    private func send(_ signal: CInt, to loop: KQueueLoop) {
        loop.execute { pthread_kill(pthread_self(), signal) }
    }

    @Test("each element counts the deliveries since the last; two sequences both count every one")
    func counting() async throws {
        let loop = try makeLoop(blocking: [SIGWINCH])
        defer { loop.shutdown() }
        let first = try loop.signals(SIGWINCH)
        let second = try loop.signals(SIGWINCH)
        var one = first.makeAsyncIterator()
        var two = second.makeAsyncIterator()
        for _ in 0..<3 {
            send(SIGWINCH, to: loop)
            #expect(await one.next() == 1)
        }
        // The second sequence counted the same three (standard signals pending at once may
        // coalesce, as in the kernel: the queue reads after each, so here they did not).
        var total = 0
        while total < 3, let count = await two.next() { total += count }
        #expect(total == 3)
    }

    @Test("a sequence ends when the loop shuts down, and when its task is cancelled")
    func ending() async throws {
        let loop = try makeLoop(blocking: [SIGURG])
        let deliveries = try loop.signals(SIGURG)
        let waiting = Task { () -> Int? in
            var iterator = deliveries.makeAsyncIterator()
            return await iterator.next()
        }
        let cancelled = Task { () -> Int? in
            var iterator = try loop.signals(SIGURG).makeAsyncIterator()
            return await iterator.next()
        }
        cancelled.cancel()
        #expect(try await cancelled.value == nil)
        loop.shutdown()
        #expect(await waiting.value == nil)
        #expect(throws: Errno.badFileDescriptor) { try loop.signals(SIGURG) }
    }
}

@Suite("KQueueLoopGroup")
struct LoopGroupTests {
    @Test("loops are handed out round-robin, each runs its own tasks, and a bad count is EINVAL")
    func roundRobin() async throws {
        #expect(throws: Errno.invalidArgument) { try KQueueLoopGroup(count: 0) }
        let group = try KQueueLoopGroup(count: 3)
        defer { group.shutdown() }
        #expect(group.loops.count == 3)
        #expect(KQueueLoopGroup.coreCount >= 1)
        let handed = (0..<6).map { _ in group.next() }
        for index in 0..<6 { #expect(handed[index] === group.loops[index % 3]) }
        #expect(group.current == nil)
        for loop in group.loops {
            let (isCurrent, found) = try await Task(executorPreference: loop) { () -> (Bool, Bool) in
                try await loop.sleep(for: .milliseconds(1))
                return (loop.isCurrent, group.current === loop)
            }.value
            #expect(isCurrent && found)
        }
    }
}

