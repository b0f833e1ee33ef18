import KQueue
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KQueueTimers
import Synchronization
import Testing

// Helpers of the scheduler, clock and periodic suites. Every name starts with `Scheduler` or
// `scheduler` so it cannot clash with the wheel suites' helpers in the same module.

/// A thread-safe append-only log, for callbacks that run on the scheduler's thread.
final class SchedulerLog<Element: Sendable>: Sendable {
    private let storage = Locked<[Element]>([])

    init() {}

    func append(_ element: Element) {
        storage.withLock { $0.append(element) }
    }

    var values: [Element] {
        storage.withLock { $0 }
    }

    var count: Int {
        storage.withLock { $0.count }
    }
}

/// A thread-safe counter.
final class SchedulerCounter: Sendable {
    private let value = Atomic<Int>(0)

    init() {}

    @discardableResult
    func increment() -> Int {
        value.add(1, ordering: .sequentiallyConsistent).newValue
    }

    @discardableResult
    func decrement() -> Int {
        value.subtract(1, ordering: .sequentiallyConsistent).newValue
    }

    var count: Int {
        value.load(ordering: .sequentiallyConsistent)
    }
}

/// A one-way latch: a callback blocks on it (spinning with short sleeps) until the test opens it.
final class SchedulerGate: Sendable {
    private let isOpen = Atomic<Bool>(false)

    init() {}

    func open() {
        isOpen.store(true, ordering: .releasing)
    }

    /// Suspends the task (without blocking its thread, which other tests' tasks may need)
    /// until the gate opens or `timeout` passes; true if it opened.
    func opened(timeout: Duration = .seconds(60)) async -> Bool {
        await schedulerEventually(timeout: timeout) { isOpen.load(ordering: .acquiring) }
    }

    /// Blocks the calling thread until the gate opens or `timeout` passes; true if it opened.
    @discardableResult
    func wait(timeout: Duration = .seconds(300)) -> Bool {
        let deadline = schedulerMonotonicNow() + timeout.schedulerNanoseconds
        while !isOpen.load(ordering: .acquiring) {
            if schedulerMonotonicNow() > deadline { return false }
            usleep(100)
        }
        return true
    }
}

/// Polls `condition` every millisecond (suspending, not blocking) until it holds or
/// `timeout` passes; returns its last value.
func schedulerEventually(
    timeout: Duration = .seconds(60),
    _ condition: () -> Bool
) async -> Bool {
    let deadline = schedulerMonotonicNow() + timeout.schedulerNanoseconds
    while !condition() {
        if schedulerMonotonicNow() > deadline { return condition() }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return true
}

/// Suspends the task for `duration` on the standard clock (never on the code under test).
func schedulerPause(_ duration: Duration) async {
    try? await Task.sleep(for: duration)
}

/// Whether the tests run under ThreadSanitizer (about 20 times slower): stress tests scale down.
let schedulerUnderThreadSanitizer: Bool = {
    #if canImport(Glibc)
    return dlsym(dlopen(nil, RTLD_NOW), "__tsan_init") != nil
    #else
    return false
    #endif
}()

/// CLOCK_MONOTONIC in nanoseconds, read independently of the library.
func schedulerMonotonicNow() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
}

/// The kernel id of the calling thread.
func schedulerThreadID() -> Int32 {
    #if canImport(Glibc)
    // /proc/thread-self links to "<pid>/task/<tid>" (Glibc does not export gettid to Swift).
    var buffer = [CChar](repeating: 0, count: 64)
    let length = readlink("/proc/thread-self", &buffer, buffer.count - 1)
    guard length > 0 else { return -1 }
    let link = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return link.split(separator: "/").last.flatMap { Int32($0) } ?? -1
    #else
    return Int32(truncatingIfNeeded: pthread_mach_thread_np(pthread_self()))
    #endif
}

/// Whether a thread of this process with kernel id `tid` still exists.
func schedulerThreadExists(_ tid: Int32) -> Bool {
    #if canImport(Glibc)
    return access("/proc/self/task/\(tid)", F_OK) == 0
    #else
    return false
    #endif
}

extension Duration {
    /// Whole nanoseconds (the test durations are far from overflowing).
    var schedulerNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// A plain POSIX thread, for cross-thread tests that must not block the test's executor.
final class SchedulerTestThread: Sendable {
    private let handle: Locked<pthread_t?>
    private let finished = Atomic<Bool>(false)

    init(_ body: @escaping @Sendable () -> Void) {
        final class Box: Sendable {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        handle = Locked(nil)
        let box = Unmanaged.passRetained(Box { [self] in
            body()
            self.finished.store(true, ordering: .releasing)
        }).toOpaque()
        #if canImport(Glibc)
        var thread = pthread_t()
        #else
        var thread: pthread_t?
        #endif
        let result = pthread_create(
            &thread,
            nil,
            { argument in
                Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue().body()
                return nil
            },
            box
        )
        precondition(result == 0, "pthread_create failed: \(result)")
        #if canImport(Glibc)
        handle.withLock { $0 = thread }
        #else
        handle.withLock { $0 = thread! }
        #endif
    }

    var isFinished: Bool {
        finished.load(ordering: .acquiring)
    }

    /// Waits (suspending) for the thread to finish, then joins it.
    func join(timeout: Duration = .seconds(120)) async -> Bool {
        guard await schedulerEventually(timeout: timeout, { isFinished }) else { return false }
        if let thread = handle.withLock({ state -> pthread_t? in
            defer { state = nil }
            return state
        }) {
            pthread_join(thread, nil)
        }
        return true
    }
}

/// A value behind a lock, as a class so escaping closures can share it.
final class SchedulerBox<Value: Sendable>: Sendable {
    private let storage: Locked<Value>

    init(_ value: Value) {
        storage = Locked(value)
    }

    func withLock<Result>(_ body: (inout Value) -> Result) -> Result {
        storage.withLock(body)
    }

    var value: Value {
        storage.withLock { $0 }
    }
}
