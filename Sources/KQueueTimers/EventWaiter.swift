import KQueue
import SystemPackage
import Synchronization

/// A task waiting for one kernel event on a loop: a descriptor's readiness or a process's exit.
/// Exactly one of ``complete(_:)`` and ``cancel()`` resumes it, once.
///
/// The loop's thread completes it (``LoopEvents``); cancellation may come from any thread, also
/// before the task has installed its continuation, so an atomic state decides who resumes it,
/// as for a ``Sleeper``.
final class EventWaiter: @unchecked Sendable {
    // @unchecked: `continuation` is written once, before the state moves to `waiting`
    // (release), and read only by the one caller that moves it from `waiting` (acquire);
    // `slot` and `generation` are touched only on the loop's thread.
    private static let initial: UInt8 = 0
    private static let waiting: UInt8 = 1
    private static let cancelled: UInt8 = 2
    private static let done: UInt8 = 3

    private let state = Atomic<UInt8>(EventWaiter.initial)
    private var continuation: UnsafeContinuation<KEvent, any Error>?
    /// The registration the waiter joined (``LoopEvents``), while it waits; loop-confined.
    var slot: Int32 = -1
    var generation: UInt32 = 0

    /// Suspends the calling task until `start` (called once the waiter can be resumed) leads to
    /// ``complete(_:)``, or the task is cancelled: then `stop` runs (from the cancelling thread)
    /// and the task resumes with `CancellationError`.
    static func wait(
        start: (EventWaiter) -> Void,
        stop: @Sendable (EventWaiter) -> Void
    ) async throws -> KEvent {
        let waiter = EventWaiter()
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<KEvent, any Error>) in
                if waiter.install(continuation) { start(waiter) }
            }
        } onCancel: {
            if waiter.cancel() { stop(waiter) }
        }
    }

    /// Whether the task was cancelled before or while it waits: the loop skips such a waiter.
    var isCancelled: Bool {
        state.load(ordering: .relaxed) == Self.cancelled
    }

    /// Installs the continuation; false if the task was cancelled first (it is resumed here).
    private func install(_ continuation: UnsafeContinuation<KEvent, any Error>) -> Bool {
        self.continuation = continuation
        let (installed, _) = state.compareExchange(
            expected: Self.initial,
            desired: Self.waiting,
            ordering: .acquiringAndReleasing
        )
        if installed { return true }
        self.continuation = nil
        continuation.resume(throwing: CancellationError())
        return false
    }

    /// Takes the continuation if the waiter still waits.
    private func take(into next: UInt8) -> UnsafeContinuation<KEvent, any Error>? {
        var current = state.load(ordering: .acquiring)
        while true {
            switch current {
            case Self.initial where next == Self.cancelled, Self.waiting:
                break
            default:
                return nil
            }
            let (exchanged, original) = state.compareExchange(
                expected: current,
                desired: next,
                ordering: .acquiringAndReleasing
            )
            if exchanged {
                guard current == Self.waiting, let continuation else { return nil }
                self.continuation = nil
                return continuation
            }
            current = original
        }
    }

    /// The event came (an `EV_ERROR` entry resumes with its error).
    func complete(_ event: KEvent) {
        guard let continuation = take(into: Self.done) else { return }
        if event.flags.contains(.error) {
            continuation.resume(throwing: Errno(rawValue: CInt(truncatingIfNeeded: event.data)))
        } else {
            continuation.resume(returning: event)
        }
    }

    /// The loop stopped, or could not register the wait: resume with `error`.
    func fail(_ error: any Error) {
        take(into: Self.done)?.resume(throwing: error)
    }

    /// The task was cancelled: resume it with `CancellationError`.
    ///
    /// - Returns: true if this call moved the waiter out of waiting (the caller then removes
    ///   its registration); false if it had already completed or failed.
    private func cancel() -> Bool {
        if let continuation = take(into: Self.cancelled) {
            continuation.resume(throwing: CancellationError())
            return true
        }
        // Cancelled before the continuation was installed: `install` resumes it.
        return state.load(ordering: .acquiring) == Self.cancelled
    }
}
