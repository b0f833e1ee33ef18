#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KQueue
import KQueueTimers
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

/// A pair of connected UNIX sockets, a stream by default.
private func ioSocketPair(datagrams: Bool = false) throws -> (CInt, CInt) {
    var fds: [CInt] = [0, 0]
    #if canImport(Glibc)
    let type = CInt((datagrams ? SOCK_DGRAM : SOCK_STREAM).rawValue)
    #else
    let type = datagrams ? SOCK_DGRAM : SOCK_STREAM
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


/// Reads `count` bytes from the non-blocking `fd` as they come, for up to 60 s; fewer if they
/// did not all come.
private func ioReceive(_ fd: CInt, count: Int) async throws -> [UInt8] {
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: count)
    var waits = 0
    while received.count < count && waits < 600_000 {
        let got = read(fd, &buffer, count - received.count)
        if got > 0 {
            received += buffer[..<got]
        } else {
            waits += 1
            try await Task.sleep(for: .microseconds(100))
        }
    }
    return received
}

/// Runs `body` in a task on `loop`, with a LoopDescriptor of `fd` made there, and closes it.
private func ioOnLoop<R: Sendable>(
    _ loop: KQueueLoop,
    _ fd: CInt,
    _ body: @escaping @Sendable (LoopDescriptor) async throws -> R
) -> Task<R, any Error> {
    Task(executorPreference: loop) {
        let descriptor = try LoopDescriptor(fd, on: loop)
        defer { descriptor.close() }
        return try await body(descriptor)
    }
}

/// Reads once through `descriptor` into a fresh buffer of `capacity` bytes.
private func ioRead(_ descriptor: LoopDescriptor, capacity: Int) async throws -> Int {
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 1)
    defer { buffer.deallocate() }
    return try await descriptor.read(into: buffer)
}

@Suite("LoopDescriptor: a descriptor registered with a loop until closed")
struct LoopDescriptorTests {
    @Test("reads take what is waiting in pieces; the read after the last byte waits for more, on the loop's thread")
    func readsInPieces() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let (reader, writer) = try ioPipe()
        defer { close(writer) }
        let reads = Locked<[Int]>([])
        let task = ioOnLoop(loop, reader) { descriptor -> Bool in
            let first = try await ioRead(descriptor, capacity: 30)  // waits: nothing written yet
            reads.withLock { $0.append(first) }
            while reads.withLock({ $0.reduce(0, +) }) < 100 {
                let count = try await ioRead(descriptor, capacity: 30)
                reads.withLock { $0.append(count) }
            }
            let later = try await ioRead(descriptor, capacity: 30)  // waits for the next write
            reads.withLock { $0.append(later) }
            return loop.isCurrent
        }
        try await ioEventually { await loop.descriptorRegistrationCount == 1 }
        #expect(ioWrite(writer, 100) == 100)
        try await ioEventually { reads.withLock { $0.reduce(0, +) } == 100 }
        #expect(reads.withLock { $0 } == [30, 30, 30, 10])
        #expect(ioWrite(writer, 5) == 5)
        #expect(try await task.value)
        #expect(reads.withLock { $0 } == [30, 30, 30, 10, 5])
        try await ioEventually { await loop.descriptorRegistrationCount == 0 }
    }

    @Test("bytes written before the registration are read at once; end-of-file reads 0, again and again")
    func dataBeforeAndEndOfFile() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let (reader, writer) = try ioPipe()
        #expect(ioWrite(writer, 10) == 10)
        let task = ioOnLoop(loop, reader) { descriptor -> [Int] in
            var counts = [try await ioRead(descriptor, capacity: 64)]
            counts.append(try await ioRead(descriptor, capacity: 64))  // waits for the close
            counts.append(try await ioRead(descriptor, capacity: 64))
            return counts
        }
        try await ioEventually { await loop.descriptorRegistrationCount == 1 }
        close(writer)
        #expect(try await task.value == [10, 0, 0])
    }

    @Test("bytes that arrive while the task is busy are read without a lost wake-up (1,000 rounds)")
    func noLostWakeUp() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let (left, right) = try ioSocketPair()
        defer { close(right) }
        let rounds = 1_000
        let task = ioOnLoop(loop, left) { descriptor -> Int in
            var total = 0
            while total < rounds * 3 {
                let count = try await ioRead(descriptor, capacity: 2)  // never all at once
                if count == 0 { break }
                total += count
            }
            return total
        }
        let writer = Task.detached {
            for round in 0..<rounds {
                // A full socket (the reader is slower, under ThreadSanitizer above all) waits.
                var attempts = 0
                while ioWrite(right, 3) != 3 {
                    attempts += 1
                    try #require(errno == EAGAIN && attempts < 60_000, "round \(round): errno \(errno)")
                    try await Task.sleep(for: .milliseconds(1))
                }
                if round % 10 == 0 { try await Task.sleep(for: .microseconds(100)) }
            }
        }
        try await writer.value
        #expect(try await task.value == rounds * 3)
    }

    @Test("a datagram socket's queued datagrams are all read: its count is one datagram, not the whole buffer")
    func datagrams() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let (left, right) = try ioSocketPair(datagrams: true)
        defer { close(right) }
        let task = ioOnLoop(loop, left) { descriptor -> [Int] in
            var counts: [Int] = []
            for _ in 0..<3 { counts.append(try await ioRead(descriptor, capacity: 64)) }
            return counts
        }
        try await ioEventually { await loop.descriptorRegistrationCount == 1 }
        for size in [5, 6, 7] { #expect(ioWrite(right, size) == size) }
        #expect(try await task.value == [5, 6, 7])
    }

    @Test("whenWritable runs the write again once a full socket has room; whenReadable retries after EWOULDBLOCK")
    func writeWhenFull() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let (left, right) = try ioSocketPair()
        defer { close(right) }
        let filled = ioFill(left)
        #expect(filled > 0)
        let attempts = Locked(0)
        let task = ioOnLoop(loop, left) { descriptor -> Int in
            try await descriptor.whenWritable { () throws(Errno) -> Int in
                attempts.withLock { $0 += 1 }
                let written = ioWrite(left, 100)
                if written < 0 { throw Errno(rawValue: errno) }
                return written
            }
        }
        try await ioEventually { attempts.withLock { $0 } >= 1 }
        try await Task.sleep(for: .milliseconds(20))
        #expect(attempts.withLock { $0 } == 1)  // waits for room, no retry meanwhile
        #expect(ioDrain(right) >= filled)
        #expect(try await task.value == 100)
        #expect(attempts.withLock { $0 } == 2)

        let (reader, writer) = try ioPipe()
        defer { close(writer) }
        let accepted = ioOnLoop(loop, reader) { descriptor -> Int in
            try await descriptor.whenReadable { () throws(Errno) -> Int in
                var byte: UInt8 = 0
                let count = read(reader, &byte, 1)
                if count < 0 { throw Errno(rawValue: errno) }
                return Int(byte)
            }
        }
        try await ioEventually { await loop.descriptorRegistrationCount == 1 }
        #expect(ioWrite(writer, 1) == 1)
        #expect(try await accepted.value == 7)
    }

    @Test("cancelling a waiting read throws CancellationError and leaves the descriptor usable")
    func cancellation() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let (reader, writer) = try ioPipe()
        defer { close(writer) }
        let descriptor = try await Task(executorPreference: loop) { try LoopDescriptor(reader, on: loop) }.value
        let waiting = Task(executorPreference: loop) { try await ioRead(descriptor, capacity: 8) }
        try await Task.sleep(for: .milliseconds(10))
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        #expect(ioWrite(writer, 3) == 3)
        let count = try await Task(executorPreference: loop) { try await ioRead(descriptor, capacity: 8) }.value
        #expect(count == 3)
        descriptor.close()  // from another thread
        try await ioEventually { await loop.descriptorRegistrationCount == 0 }
    }

    @Test("close ends a waiting read with EBADF; shutdown ends waits with CancellationError, and later calls too")
    func closeAndShutdown() async throws {
        let loop = try KQueueLoop()
        let (reader, writer) = try ioPipe()
        defer { close(writer) }
        let descriptor = try await Task(executorPreference: loop) { try LoopDescriptor(reader, on: loop) }.value
        let waiting = Task(executorPreference: loop) { try await ioRead(descriptor, capacity: 8) }
        try await Task.sleep(for: .milliseconds(10))
        await Task(executorPreference: loop) { descriptor.close() }.value
        await #expect(throws: Errno.badFileDescriptor) { try await waiting.value }

        let (reader2, writer2) = try ioPipe()
        defer { close(writer2) }
        let other = try await Task(executorPreference: loop) { try LoopDescriptor(reader2, on: loop) }.value
        let stopped = Task(executorPreference: loop) { try await ioRead(other, capacity: 8) }
        try await ioEventually { await loop.descriptorRegistrationCount == 1 }
        try await Task.sleep(for: .milliseconds(10))
        loop.shutdown()
        await #expect(throws: CancellationError.self) { try await stopped.value }
        await #expect(throws: CancellationError.self) { try await ioRead(other, capacity: 8) }
        other.close()
        // Closed: the pipe has no reader left, which poll(2) reports on its write end.
        var entry = pollfd(fd: writer2, events: Int16(POLLOUT), revents: 0)
        #expect(poll(&entry, 1, 0) == 1 && entry.revents & Int16(POLLERR) != 0)
    }

    @Test("a descriptor that is not open is EBADF")
    func notOpen() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        // A number far above what the tests open (the limit is raised to 20,000 or more);
        // a number just closed could be reused at once by a test running in parallel.
        let reader: CInt = 19_999
        try #require(fcntl(reader, F_GETFD) == -1)
        let task = ioOnLoop(loop, reader) { descriptor in try await ioRead(descriptor, capacity: 8) }
        await #expect(throws: Errno.badFileDescriptor) { try await task.value }
        await #expect(throws: Errno.badFileDescriptor) {
            try await Task(executorPreference: loop) { try LoopDescriptor(-1, on: loop) }.value
        }
    }

    @Test("made and used from a task that is not on the loop, and from an actor on the loop's executor")
    func offTheLoop() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let (reader, writer) = try ioPipe()
        defer { close(writer) }
        let descriptor = try LoopDescriptor(reader, on: loop)  // the test's own thread
        defer { descriptor.close() }
        let plain = Task { () -> (Int, Bool) in
            let count = try await ioRead(descriptor, capacity: 64)  // waits: nothing written yet
            return (count, loop.isCurrent)
        }
        try await ioEventually { await loop.descriptorRegistrationCount == 1 }
        try await Task.sleep(for: .milliseconds(10))
        #expect(ioWrite(writer, 12) == 12)
        let (count, stayedOnLoop) = try await plain.value
        #expect(count == 12 && !stayedOnLoop)  // the task moved to the loop for the read, and back

        actor Reader {
            let loop: KQueueLoop
            init(loop: KQueueLoop) { self.loop = loop }
            nonisolated var unownedExecutor: UnownedSerialExecutor { loop.asUnownedSerialExecutor() }
            func read(_ descriptor: LoopDescriptor) async throws -> Int {
                try await ioRead(descriptor, capacity: 64)
            }
        }
        let reading = Task { try await Reader(loop: loop).read(descriptor) }
        try await Task.sleep(for: .milliseconds(10))
        #expect(ioWrite(writer, 7) == 7)
        #expect(try await reading.value == 7)
    }

    @Test("1,000 descriptors, each echoing 10 messages through a task of its own on one loop")
    func thousandDescriptors() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let pairs = try (0..<1_000).map { _ in try ioSocketPair() }
        defer { for (_, right) in pairs { close(right) } }
        let servers = pairs.map { (left, _) in
            ioOnLoop(loop, left) { descriptor -> Int in
                var echoed = 0
                let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 1)
                defer { buffer.deallocate() }
                while true {
                    let count = try await descriptor.read(into: buffer)
                    if count == 0 { return echoed }
                    let sent = try await descriptor.whenWritable { () throws(Errno) -> Int in
                        let sent = write(left, buffer.baseAddress, count)
                        if sent < 0 { throw Errno(rawValue: errno) }
                        return sent
                    }
                    echoed += sent
                }
            }
        }
        for round in 0..<10 {
            for (_, right) in pairs { #expect(ioWrite(right, 8) == 8) }
            for (_, right) in pairs {
                let got = try await ioReceive(right, count: 8).count
                #expect(got == 8, "round \(round)")
                if got != 8 { return }  // the deferred closes and shutdown end the servers
            }
        }
        for (_, right) in pairs { shutdown(right, CInt(SHUT_WR)) }
        for server in servers { #expect(try await server.value == 80) }
        try await ioEventually { await loop.descriptorRegistrationCount == 0 }
    }
}

@Suite("README snippets: async I/O")
struct ReadmeIOSnippetTests {
    @Test("the echo loop of 'Async I/O on the loop' echoes 100 messages and ends at end-of-file")
    func echoLoop() async throws {
        let loop = try KQueueLoop()
        defer { loop.shutdown() }
        let (socket, peer) = try ioSocketPair()
        defer { close(peer) }
        // The README's snippet, as written there (Linux: MSG_NOSIGNAL).
        let echo = Task(executorPreference: loop) {
            let connection = try LoopDescriptor(socket, on: loop)     // one EV_CLEAR knote, kept
            defer { connection.close() }                              // deletes it, closes the socket
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 1)
            defer { buffer.deallocate() }
            while true {
                let count = try await connection.read(into: buffer)   // waits only when nothing is left
                if count == 0 { break }                               // end-of-file
                var reply = UnsafeRawBufferPointer(rebasing: buffer[..<count])
                while !reply.isEmpty {                                // read nothing while a reply waits
                    let sent = try await connection.whenWritable { () throws(Errno) in
                        let sent = send(socket, reply.baseAddress, reply.count, CInt(MSG_NOSIGNAL))  // Linux
                        if sent < 0 { throw Errno(rawValue: errno) }  // EWOULDBLOCK: wait for room, again
                        return sent
                    }
                    reply = UnsafeRawBufferPointer(rebasing: reply[sent...])
                }
            }
        }
        for round in 0..<100 {
            let message = (0..<16).map { UInt8(truncatingIfNeeded: round &+ $0) }
            #expect(message.withUnsafeBytes { write(peer, $0.baseAddress, $0.count) } == 16)
            #expect(try await ioReceive(peer, count: 16) == message, "round \(round)")
        }
        shutdown(peer, CInt(SHUT_WR))
        try await echo.value
    }
}
