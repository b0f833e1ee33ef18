import Synchronization

/// A one-shot timer scheduled on a loop from another thread.
///
/// The scheduling thread cannot touch the loop's wheel, so the timer travels to the loop as
/// an object through the loop's inbox; the handle refers to the object, and its atomic state
/// decides between the loop's fire and a cancel from anywhere, as ``TimerBoard`` does for
/// timers scheduled on the loop.
final class RemoteTimer: @unchecked Sendable {
    // @unchecked: `work` and `timer` are touched only by the loop's thread after the object
    // was handed over through the inbox's lock; `deadline` and `toleranceClass` are set
    // before; `state` is atomic.
    private static let pending: UInt8 = 0
    private static let settled: UInt8 = 1

    private let state = Atomic<UInt8>(RemoteTimer.pending)
    let deadline: Int64
    let toleranceClass: UInt8
    /// The work, until it runs or is abandoned.
    var work: TimerWork?
    /// The wheel entry, once the loop has taken the timer.
    var timer: TimerID?

    init(deadline: Int64, toleranceClass: UInt8, work: TimerWork) {
        self.deadline = deadline
        self.toleranceClass = toleranceClass
        self.work = work
    }

    var isPending: Bool {
        state.load(ordering: .acquiring) == Self.pending
    }

    /// Settles the timer; true for the one call (a fire or a cancel) that did.
    func settle() -> Bool {
        state.compareExchange(expected: Self.pending, desired: Self.settled, ordering: .acquiringAndReleasing)
            .exchanged
    }

    /// The loop's thread: the timer is due. Runs the work unless a cancel came first.
    func run() {
        guard settle(), let work else { return }
        self.work = nil
        Firing.once(work).run()
    }

    /// The loop's thread: the timer will never run (it was cancelled, or the loop stops).
    func abandon() {
        let work = self.work
        self.work = nil
        _ = settle()
        work?.abandon()
    }
}
