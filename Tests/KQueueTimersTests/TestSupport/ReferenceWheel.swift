import KQueueTimers

/// A deliberately simple model of ``TimerWheel``: the pending timers in one array
/// sorted by (deadline, sequence), searched and shifted linearly.
///
/// It takes the identifiers the real wheel hands out, so the two can be compared
/// operation by operation.
struct ReferenceWheel {
    /// A pending or fired timer.
    struct Timer: Equatable, CustomStringConvertible {
        var id: TimerID
        var deadline: Int64
        var sequence: UInt64
        var payload: UInt64

        var description: String { "\(id)@\(deadline)" }
    }

    /// The instant of the last advance.
    private(set) var now: Int64

    /// The pending timers, sorted by (deadline, sequence).
    private(set) var pending: [Timer] = []

    private var nextSequence: UInt64 = 0

    init(now: Int64) {
        self.now = now
    }

    var count: Int { pending.count }

    /// The timer that fires next.
    var earliest: Timer? { pending.first }

    func timer(_ id: TimerID) -> Timer? {
        pending.first { $0.id == id }
    }

    mutating func schedule(_ id: TimerID, at deadline: Int64, payload: UInt64) {
        let timer = Timer(id: id, deadline: deadline, sequence: nextSequence, payload: payload)
        nextSequence += 1
        // The newest timer goes after every timer with a deadline at or before its own.
        let position = pending.firstIndex { $0.deadline > deadline } ?? pending.endIndex
        pending.insert(timer, at: position)
    }

    mutating func cancel(_ id: TimerID) -> Timer? {
        guard let position = pending.firstIndex(where: { $0.id == id }) else { return nil }
        return pending.remove(at: position)
    }

    mutating func reschedule(_ id: TimerID, to deadline: Int64) -> Bool {
        guard let timer = cancel(id) else { return false }
        schedule(id, at: deadline, payload: timer.payload)
        return true
    }

    /// Fires every timer due at `now`, in order; going backwards does nothing.
    mutating func advance(to now: Int64) -> [Timer] {
        guard now >= self.now else { return [] }
        self.now = now
        let due = pending.firstIndex { $0.deadline > now } ?? pending.endIndex
        let fired = Array(pending[..<due])
        pending.removeFirst(due)
        return fired
    }
}
