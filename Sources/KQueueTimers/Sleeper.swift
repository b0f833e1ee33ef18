import Synchronization

/// A task sleeping on a timer. Exactly one of ``fire()`` and ``cancel()`` resumes it, once.
///
/// The timer may fire, or the task be cancelled, before the task has installed its
/// continuation; an atomic state decides who resumes it.
final class Sleeper: @unchecked Sendable {
    // @unchecked: `continuation` and `timer` are written once, before the state moves to
    // `waiting` (release), and read only by the one caller that moves it from `waiting`
    // (acquire).
    private static let initial: UInt8 = 0
    private static let waiting: UInt8 = 1
    private static let fired: UInt8 = 2
    private static let cancelled: UInt8 = 3
    private static let done: UInt8 = 4

    private let state = Atomic<UInt8>(Sleeper.initial)
    private var continuation: UnsafeContinuation<Void, any Error>?
    private var timer: TimerHandle?

    /// Suspends the calling task until the timer that `schedule` starts fires, or the task
    /// is cancelled (`CancellationError`).
    static func sleep(_ schedule: (Sleeper) -> TimerHandle) async throws {
        let sleeper = Sleeper()
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                sleeper.wait(continuation, timer: schedule(sleeper))
            }
        } onCancel: {
            sleeper.cancel()
        }
    }

    private func wait(_ continuation: UnsafeContinuation<Void, any Error>, timer: TimerHandle) {
        self.continuation = continuation
        self.timer = timer
        let (installed, early) = state.compareExchange(
            expected: Self.initial,
            desired: Self.waiting,
            ordering: .acquiringAndReleasing
        )
        if installed { return }
        state.store(Self.done, ordering: .relaxed)
        self.continuation = nil
        if early == Self.fired {
            continuation.resume()
        } else {
            timer.cancel()
            continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves the state from `initial` to `early`, or from `waiting` to `done`.
    ///
    /// - Returns: true if the caller took the waiting continuation.
    private func settle(early: UInt8) -> Bool {
        var current = state.load(ordering: .acquiring)
        while true {
            let next: UInt8
            switch current {
            case Self.initial: next = early
            case Self.waiting: next = Self.done
            default: return false
            }
            let (exchanged, original) = state.compareExchange(
                expected: current,
                desired: next,
                ordering: .acquiringAndReleasing
            )
            if exchanged { return current == Self.waiting }
            current = original
        }
    }

    /// The timer fired.
    func fire() {
        guard settle(early: Self.fired), let continuation else { return }
        self.continuation = nil
        continuation.resume()
    }

    /// The task was cancelled or the loop stopped: free the timer, end the sleep.
    func cancel() {
        guard settle(early: Self.cancelled), let continuation else { return }
        self.continuation = nil
        timer?.cancel()
        continuation.resume(throwing: CancellationError())
    }
}
