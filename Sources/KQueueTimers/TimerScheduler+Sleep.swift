import KQueue
extension TimerScheduler {
    /// Suspends the task until `deadline` on the scheduler's wheel.
    ///
    /// - Throws: `CancellationError` when the task is cancelled (its timer is freed at once)
    ///   or the scheduler shuts down.
    public func sleep(until deadline: KQueueClock.Instant) async throws {
        try await core.sleep(until: deadline.nanoseconds)
    }
}

extension TimerCore {
    /// Suspends the calling task until the timer at `deadline` fires.
    func sleep(until deadline: Int64) async throws {
        let sleeper = Sleeper()
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                sleeper.wait(continuation, timer: schedule(at: deadline, .action(sleeper)))
            }
        } onCancel: {
            sleeper.cancel()
        }
    }
}

/// A task sleeping on a timer. Exactly one of fire and cancel resumes it, once.
final class Sleeper: TimerAction {
    private enum State {
        /// Before the continuation is installed.
        case initial
        case waiting(UnsafeContinuation<Void, any Error>, TimerHandle)
        /// The timer fired before the continuation was installed.
        case fired
        /// Cancelled before the continuation was installed.
        case cancelled
        case done
    }

    private let state = Locked(State.initial)

    func wait(_ continuation: UnsafeContinuation<Void, any Error>, timer: TimerHandle) {
        let early = state.withLock { state -> State? in
            switch state {
            case .initial:
                state = .waiting(continuation, timer)
                return nil
            case .fired, .cancelled:
                defer { state = .done }
                return state
            case .waiting, .done:
                preconditionFailure("a sleeper waits once")
            }
        }
        switch early {
        case .fired: continuation.resume()
        case .cancelled:
            timer.cancel()
            continuation.resume(throwing: CancellationError())
        default: break
        }
    }

    /// The timer fired.
    func fire() {
        let continuation = state.withLock { state -> UnsafeContinuation<Void, any Error>? in
            switch state {
            case .initial:
                state = .fired
                return nil
            case .waiting(let continuation, _):
                state = .done
                return continuation
            case .fired, .cancelled, .done:
                return nil
            }
        }
        continuation?.resume()
    }

    /// The task was cancelled or the scheduler shut down: free the timer, end the sleep.
    func cancel() {
        let waiting = state.withLock { state -> (UnsafeContinuation<Void, any Error>, TimerHandle)? in
            switch state {
            case .initial:
                state = .cancelled
                return nil
            case .waiting(let continuation, let timer):
                state = .done
                return (continuation, timer)
            case .fired, .cancelled, .done:
                return nil
            }
        }
        if let (continuation, timer) = waiting {
            timer.cancel()
            continuation.resume(throwing: CancellationError())
        }
    }
}
