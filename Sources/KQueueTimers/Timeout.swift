/// The error ``withTimeout(_:tolerance:on:operation:)`` throws when the time is up before
/// the operation finished.
public struct TimeoutError: Error, Hashable, Sendable, CustomStringConvertible {
    /// How long the operation was given.
    public var duration: Duration?

    /// An error for an operation given `duration`.
    public init(duration: Duration? = nil) {
        self.duration = duration
    }

    /// `"the operation timed out after 5.0 seconds"`, or without the duration when it is
    /// not known (a ``withDeadline(_:tolerance:on:operation:)`` that ran out).
    public var description: String {
        if let duration { return "the operation timed out after \(duration)" }
        return "the operation timed out"
    }
}

/// Runs `operation` and cancels it when `duration` has passed on `scheduler`, then throws
/// ``TimeoutError``.
///
/// The operation runs as a child task (it inherits the caller's task executor preference, so
/// on a ``KQueueLoop`` it stays on the loop). When the time is up the child is cancelled and
/// awaited: an operation that honours cancellation ends, and `withTimeout` throws
/// `TimeoutError`; one that finishes successfully anyway returns its value. The operation's
/// own errors, and the caller's cancellation, pass through unchanged. The timer is cancelled,
/// and its memory freed, the moment the operation ends.
///
/// It works with any ``TimerScheduling``, so a test drives it with a ``ManualClock``:
///
/// ```swift
/// let reply = try await withTimeout(.seconds(5), on: loop) {
///     try await connection.read()
/// }
/// ```
///
/// - Parameters:
///   - duration: how long the operation may run.
///   - tolerance: how late the timeout may come; the scheduler's default if nil.
///   - scheduler: the loop or clock that measures the time.
///   - operation: the work to bound.
/// - Returns: what the operation returned.
/// - Throws: ``TimeoutError`` when the time ran out first; otherwise what the operation threw.
public func withTimeout<Scheduler: TimerScheduling, Success: Sendable>(
    _ duration: Duration,
    tolerance: Duration? = nil,
    on scheduler: Scheduler,
    operation: @escaping @Sendable () async throws -> Success
) async throws -> Success {
    try await withDeadline(
        scheduler.now.advanced(by: duration),
        tolerance: tolerance,
        on: scheduler,
        error: TimeoutError(duration: duration),
        operation: operation
    )
}

/// Runs `operation` and cancels it when `scheduler` reaches `deadline`, then throws
/// ``TimeoutError``; see ``withTimeout(_:tolerance:on:operation:)``.
public func withDeadline<Scheduler: TimerScheduling, Success: Sendable>(
    _ deadline: Scheduler.Instant,
    tolerance: Duration? = nil,
    on scheduler: Scheduler,
    operation: @escaping @Sendable () async throws -> Success
) async throws -> Success {
    try await withDeadline(deadline, tolerance: tolerance, on: scheduler, error: TimeoutError(), operation: operation)
}

private func withDeadline<Scheduler: TimerScheduling, Success: Sendable>(
    _ deadline: Scheduler.Instant,
    tolerance: Duration?,
    on scheduler: Scheduler,
    error timeout: TimeoutError,
    operation: @escaping @Sendable () async throws -> Success
) async throws -> Success {
    let expiry = Expiry()
    let result = await withTaskGroup(of: Result<Success, any Error>.self) { group in
        group.addTask {
            // The timer cancels this child task only, and only while it is alive: before it
            // returns, the timer is cancelled or its cancel has finished.
            let timer = withUnsafeCurrentTask { task in
                expiry.arm(task)
                return scheduler.schedule(at: deadline, tolerance: tolerance) { expiry.fire() }
            }
            defer { expiry.disarm(timer) }
            do {
                return .success(try await operation())
            } catch {
                return .failure(error)
            }
        }
        return await group.next()!
    }
    switch result {
    case .success(let value):
        return value
    case .failure(let error):
        throw expiry.didFire ? timeout : error
    }
}

import Synchronization

/// The timeout of one operation: the timer's callback cancels the operation's task, unless
/// the operation ended first.
private final class Expiry: @unchecked Sendable {
    // @unchecked: `task` is written once before the timer is scheduled, and read only by the
    // callback that wins the state from `armed`; the task outlives that read (see `disarm`).
    private static let armed: UInt8 = 0
    private static let firing: UInt8 = 1
    private static let fired: UInt8 = 2
    private static let disarmed: UInt8 = 3

    private let state = Atomic<UInt8>(Expiry.armed)
    private var task: UnsafeCurrentTask?

    func arm(_ task: UnsafeCurrentTask?) {
        self.task = task
    }

    /// The time is up: cancel the operation's task.
    func fire() {
        guard state.compareExchange(expected: Self.armed, desired: Self.firing, ordering: .acquiringAndReleasing).exchanged
        else { return }
        task?.cancel()
        state.store(Self.fired, ordering: .releasing)
    }

    /// The operation ended: stop the timer, or wait for a fire that has begun to finish, so
    /// that nothing touches the task after it ends.
    func disarm(_ timer: TimerHandle) {
        timer.cancel()
        if state.compareExchange(expected: Self.armed, desired: Self.disarmed, ordering: .acquiringAndReleasing).exchanged {
            return
        }
        while state.load(ordering: .acquiring) == Self.firing {}
    }

    /// Whether the time ran out before the operation ended.
    var didFire: Bool {
        state.load(ordering: .acquiring) == Self.fired
    }
}
