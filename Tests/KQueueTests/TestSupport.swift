#if canImport(Glibc)
// pollfd: Clang may assign <poll.h> to the shim module, which includes it too.
import CKQueueShims
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KQueue
import Synchronization
import SystemPackage
import Testing

// Helpers shared by the conformance suites. Times are nanoseconds as Int64.

/// CLOCK_MONOTONIC in nanoseconds.
func now() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
}

/// The CPU time of the calling thread in nanoseconds (CLOCK_THREAD_CPUTIME_ID).
func threadCPUTime() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
}

/// CLOCK_REALTIME in nanoseconds since the Unix epoch.
func wallClock() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
}

let nsPerMs: Int64 = 1_000_000

/// How late an event may come before a test fails: generous, for a loaded 2-core machine and
/// ThreadSanitizer. Early is never tolerated.
let lateness: Int64 = 5_000_000_000

/// Milliseconds, for readable assertions on `Int64` nanosecond spans.
func ms(_ value: Int64) -> Int64 { value * nsPerMs }

/// Sleeps at least `duration` (nanosleep, resumed after signals).
func sleep(_ duration: Duration) {
    let (seconds, attoseconds) = duration.components
    var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
    var remaining = timespec()
    while nanosleep(&request, &remaining) == -1 && errno == EINTR {
        request = remaining
    }
}

/// Calls kevent with no changes and returns the events it collected.
func poll(_ queue: KQueue, capacity: Int = 16, timeout: Duration? = .zero) throws(Errno) -> [KEvent] {
    try kevent(queue, [], capacity: capacity, timeout: timeout)
}

/// Calls kevent with `changes` and an event buffer of `capacity`, returning the entries written.
func kevent(
    _ queue: KQueue,
    _ changes: [KEvent],
    capacity: Int,
    timeout: Duration? = .zero
) throws(Errno) -> [KEvent] {
    var events = [KEvent](repeating: KEvent(), count: capacity)
    let count = try queue.kevent(changes: changes, events: &events, timeout: timeout)
    #expect(count >= 0 && count <= capacity)
    return Array(events.prefix(count))
}

/// Applies changes with room for one entry per change, returning the EV_ERROR / receipt entries.
func register(_ queue: KQueue, _ changes: [KEvent]) throws(Errno) -> [KEvent] {
    try kevent(queue, changes, capacity: max(changes.count, 1), timeout: .zero)
}

/// Applies one change and returns the errno it failed with, nil on success.
///
/// The change gets EV_RECEIPT, so a successful change yields an entry with data 0 and the call
/// never collects events.
func outcome(_ queue: KQueue, _ change: KEvent) throws -> Errno? {
    var change = change
    change.flags.insert(.receipt)
    let entries = try register(queue, [change])
    let entry = try #require(entries.first)
    #expect(entries.count == 1)
    #expect(entry.flags.contains(.error))
    return entry.data == 0 ? nil : Errno(rawValue: CInt(entry.data))
}

/// Whether the (ident, filter) knote exists: an EV_DELETE of it succeeds (and removes it).
func deleteSucceeds(_ queue: KQueue, ident: UInt, filter: KEvent.Filter) throws -> Bool {
    try outcome(queue, KEvent(ident: ident, filter: filter, flags: .delete)) == nil
}

/// A user event change.
func user(_ ident: UInt, _ flags: KEvent.Flags = [], fflags: KEvent.FilterFlags = [], data: Int = 0, udata: UInt = 0)
    -> KEvent
{
    KEvent(ident: ident, filter: .user, flags: flags, fflags: fflags, data: data, udata: udata)
}

/// A timer change.
func timer(_ ident: UInt, _ flags: KEvent.Flags = [.add], fflags: KEvent.FilterFlags = [], data: Int, udata: UInt = 0)
    -> KEvent
{
    KEvent(ident: ident, filter: .timer, flags: flags, fflags: fflags, data: data, udata: udata)
}

/// Nanoseconds in `duration` (whole nanoseconds, rounded down).
func nanoseconds(_ duration: Duration) -> Int64 {
    duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
}

/// Waits (blocking in kevent, in slices) until an event arrives or `limit` passes.
/// Returns the events of the first call that collected any, and the monotonic time it returned.
///
/// The limit is a safety net, far beyond what the callers wait for (milliseconds, on a loaded
/// machine and under ThreadSanitizer seconds at worst): reaching it records an issue that says
/// so, and returns no events.
func waitForEvents(
    _ queue: KQueue,
    capacity: Int = 16,
    limit: Duration = .seconds(30),
    sourceLocation: SourceLocation = #_sourceLocation
) throws(Errno) -> (events: [KEvent], at: Int64) {
    let start = now()
    let deadline = start + nanoseconds(limit)
    while true {
        let remaining = deadline - now()
        if remaining <= 0 {
            Issue.record("no event arrived within \(limit)", sourceLocation: sourceLocation)
            return ([], now())
        }
        let events = try poll(queue, capacity: capacity, timeout: .nanoseconds(remaining))
        let at = now()
        if !events.isEmpty { return (events, at) }
    }
}

/// A value shared between threads, behind the project's ``Locked`` (a pthread mutex, which
/// ThreadSanitizer sees).
final class Shared<Value: Sendable>: Sendable {
    private let storage: Locked<Value>

    init(_ value: Value) {
        storage = Locked(value)
    }

    var value: Value {
        withLock { $0 }
    }

    @discardableResult
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        try storage.withLock { value in try body(&value) }
    }
}

/// A POSIX thread running a closure, joinable with a time limit.
final class TestThread: @unchecked Sendable {
    private var handle = pthread_t()
    private let finished = Atomic<Bool>(false)
    private var joined = false

    private final class Start {
        let body: @Sendable () -> Void
        let thread: TestThread
        init(body: @escaping @Sendable () -> Void, thread: TestThread) {
            self.body = body
            self.thread = thread
        }
    }

    init(_ body: @escaping @Sendable () -> Void) {
        let start = Unmanaged.passRetained(Start(body: body, thread: self)).toOpaque()
        let result = pthread_create(
            &handle, nil,
            { argument in
                let start = Unmanaged<Start>.fromOpaque(argument!).takeRetainedValue()
                start.body()
                start.thread.finished.store(true, ordering: .releasing)
                return nil
            }, start)
        precondition(result == 0, "pthread_create failed: \(result)")
    }

    var isFinished: Bool { finished.load(ordering: .acquiring) }

    /// Waits until the thread has finished or `limit` has passed; true if it finished (and was joined).
    @discardableResult
    func join(limit: Duration = .seconds(10)) -> Bool {
        let deadline = now() + Int64(limit.components.seconds) * 1_000_000_000
        while !isFinished {
            if now() >= deadline { return false }
            sleep(.milliseconds(1))
        }
        if !joined {
            pthread_join(handle, nil)
            joined = true
        }
        return true
    }

    /// Joins without a limit.
    func joinForever() {
        if !joined {
            pthread_join(handle, nil)
            joined = true
        }
    }
}

/// The number of open descriptors of this process (entries of /proc/self/fd).
func openDescriptorCount() -> Int {
    guard let directory = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(directory) }
    var count = 0
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { count += 1 }
    }
    // opendir's own descriptor is listed too.
    return count - 1
}

/// The descriptors registered in the epoll set behind `fd` (the "tfd:" lines of
/// /proc/self/fdinfo/<fd>), or nil if it cannot be read.
func epollRegistrations(_ fd: CInt) -> Int? {
    fdinfoLines(fd, starting: "tfd:")
}

/// The number of lines of /proc/self/fdinfo/<fd> that start with `prefix`, or nil if it cannot
/// be read.
func fdinfoLines(_ fd: CInt, starting prefix: String) -> Int? {
    guard let file = fopen("/proc/self/fdinfo/\(fd)", "r") else { return nil }
    defer { fclose(file) }
    var count = 0
    var line: UnsafeMutablePointer<CChar>? = nil
    var capacity = 0
    defer { free(line) }
    while getline(&line, &capacity, file) > 0 {
        if let line, strncmp(line, prefix, prefix.utf8.count) == 0 { count += 1 }
    }
    return count
}

/// Whether `fd` is readable right now (or becomes readable within `timeoutMs`), per poll(2).
func isReadable(_ fd: CInt, timeoutMs: CInt = 0) -> Bool {
    var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    var result: CInt
    repeat {
        result = Glibc.poll(&entry, 1, timeoutMs)
    } while result == -1 && errno == EINTR
    return result == 1 && entry.revents & Int16(POLLIN) != 0
}

extension KEvent {
    /// The flags of an EV_ERROR / receipt entry reported for this change (darwin: the caller's
    /// flags without EV_SYSFLAGS, plus EV_ERROR).
    var expectedEntryFlags: KEvent.Flags {
        flags.subtracting(.system).union(.error)
    }
}

/// The descriptor numbers registered in the epoll set behind `fd` (the "tfd:" lines of
/// /proc/self/fdinfo/<fd>), or nil if it cannot be read.
func epollTargets(_ fd: CInt) -> [CInt]? {
    guard let file = fopen("/proc/self/fdinfo/\(fd)", "r") else { return nil }
    defer { fclose(file) }
    var targets: [CInt] = []
    var line: UnsafeMutablePointer<CChar>? = nil
    var capacity = 0
    defer { free(line) }
    while getline(&line, &capacity, file) > 0 {
        guard let line, strncmp(line, "tfd:", 4) == 0 else { continue }
        targets.append(CInt(strtol(line + 4, nil, 10)))
    }
    return targets.sorted()
}

/// Runs `body` with `signals` blocked in this thread (threads it starts inherit the mask) and
/// a no-op handler installed for each; takes what is left pending before unblocking them.
func withSignalsBlocked(_ signals: [CInt], _ body: () throws -> Void) throws {
    var mask = sigset_t()
    sigemptyset(&mask)
    var previousActions: [sigaction] = []
    for signal in signals {
        sigaddset(&mask, signal)
        var action = sigaction()
        #if canImport(Glibc)
        action.__sigaction_handler.sa_handler = { _ in }
        #else
        action.__sigaction_u.__sa_handler = { _ in }
        #endif
        sigemptyset(&action.sa_mask)
        var previous = sigaction()
        sigaction(signal, &action, &previous)
        previousActions.append(previous)
    }
    var previousMask = sigset_t()
    pthread_sigmask(SIG_BLOCK, &mask, &previousMask)
    defer {
        var zero = timespec()
        while sigtimedwait(&mask, nil, &zero) > 0 {}
        pthread_sigmask(SIG_SETMASK, &previousMask, nil)
        for (signal, previous) in zip(signals, previousActions) {
            var previous = previous
            sigaction(signal, &previous, nil)
        }
    }
    try body()
}
