#if os(Linux) && !KQUEUE_LIBKQUEUE
import SystemPackage

/// EVFILT_TIMER: every timer of a queue in one ``DeadlineHeap`` behind one timerfd.
///
/// Darwin profile:
/// - `data` is milliseconds unless NOTE_SECONDS, NOTE_USECONDS or NOTE_NSECONDS says
///   otherwise (more than one unit, or any other bit, is EINVAL); a value whose nanoseconds
///   do not fit in 64 bits is ERANGE.
/// - A relative timer is periodic unless EV_ONESHOT, on the grid start + k·period; the
///   returned `data` counts the expirations since the last retrieval, missed periods
///   included. EV_CLEAR is always set.
/// - `data` 0 or negative fires at once, and once: a periodic knote then stays silent.
/// - NOTE_ABSOLUTE: `data` is a deadline since the Unix epoch, converted once to the
///   monotonic clock when it is registered; it implies EV_ONESHOT. A past deadline fires at once.
/// - Every change to an existing timer (EV_ADD, EV_ENABLE, EV_DISABLE or none) re-arms it
///   from now with the change's `data` and `fflags`, discarding expirations not yet
///   returned; an invalid change leaves the running timer alone. Toggling NOTE_ABSOLUTE
///   is EINVAL. A disabled timer is not armed; the EV_ENABLE that re-enables it re-arms it.
/// - The returned `fflags` are 0.
enum TimerFilter: EmulatedFilter {
    /// A deadline that never comes: the knote is not armed.
    static let never = Int64.max

    static func attach(_ knote: Int32, _ change: KEvent, to queue: inout QueueState) -> Errno? {
        queue.knotes[knote].flags.insert(.clear)
        if change.fflags.contains(.absolute) { queue.knotes[knote].flags.insert(.oneshot) }
        return arm(knote, change, in: &queue)
    }

    static func touch(_ knote: Int32, _ change: KEvent, in queue: inout QueueState) -> Errno? {
        let wasAbsolute = KEvent.FilterFlags(rawValue: queue.knotes[knote].sfflags).contains(.absolute)
        guard change.fflags.contains(.absolute) == wasAbsolute else { return .invalidArgument }
        return arm(knote, change, in: &queue)
    }

    static func update(_ knote: Int32, in queue: inout QueueState) {
        let timer = queue.knotes[knote]
        let shouldRun = timer.isEnabled && timer.deadline != never
        let isArmed = queue.timers.isArmed(knote)
        if shouldRun && !isArmed {
            queue.timers.schedule(knote, at: timer.deadline)
        } else if !shouldRun && isArmed {
            queue.timers.remove(knote)
        }
    }

    static func detach(_ knote: Int32, from queue: inout QueueState) {
        queue.timers.remove(knote)
    }

    static func deliver(_ knote: Int32, from queue: inout QueueState) -> KEvent? {
        queue.takeCount(knote)
    }

    /// Counts the expirations of every timer due at `now` and activates their knotes.
    ///
    /// A periodic timer stays on its grid: after a late wake-up it counts every period it
    /// missed and is re-armed at the first grid point after `now`.
    static func expire(at now: Int64, in queue: inout QueueState) {
        while let first = queue.timers.first, first.deadline <= now {
            let knote = first.knote
            let deadline = first.deadline
            let period = queue.knotes[knote].period
            var fired = 1
            var next = never
            if period > 0 {
                fired = Int((now - deadline) / period) + 1
                let (advance, overflow) = Int64(fired).multipliedReportingOverflow(by: period)
                let (sum, overflow2) = deadline.addingReportingOverflow(advance)
                next = overflow || overflow2 ? never : sum
            }
            let (count, overflow) = queue.knotes[knote].expirations.addingReportingOverflow(fired)
            queue.knotes[knote].expirations = overflow ? Int.max : count
            queue.knotes[knote].deadline = next
            if next == never {
                queue.timers.remove(knote)
            } else {
                queue.timers.schedule(knote, at: next)
            }
            queue.knotes[knote].isActive = true
            queue.activate(knote)
        }
    }

    /// Validates `data` and `fflags` and, if they are valid, (re)starts the timer from now.
    private static func arm(_ knote: Int32, _ change: KEvent, in queue: inout QueueState) -> Errno? {
        let units: KEvent.FilterFlags = [.seconds, .useconds, .nseconds]
        let unknown = change.fflags.subtracting(units.union(.absolute))
        guard unknown.isEmpty else { return .invalidArgument }
        let unit = change.fflags.intersection(units)
        let nanosecondsPerUnit: Int64
        switch unit {
        case []: nanosecondsPerUnit = 1_000_000
        case .seconds: nanosecondsPerUnit = 1_000_000_000
        case .useconds: nanosecondsPerUnit = 1_000
        case .nseconds: nanosecondsPerUnit = 1
        default: return .invalidArgument  // more than one unit
        }
        let absolute = change.fflags.contains(.absolute)
        let now = queue.now
        var deadline = now
        var period: Int64 = 0
        // The sign comes first (darwin): a negative relative timer fires at once, however large.
        if change.data > 0 || absolute {
            let (nanoseconds, overflow) = Int64(change.data).multipliedReportingOverflow(by: nanosecondsPerUnit)
            guard !overflow else { return .outOfRange }
            if absolute {
                // Converted once to the monotonic clock, reading both clocks now: the change may
                // come late in a long changelist, and the monotonic read after the wall-clock
                // read can only make the deadline later, never earlier.
                let delay = SystemClock.realtime().distanceSaturating(to: nanoseconds)
                if delay > 0 { deadline = SystemClock.monotonic().addingSaturating(delay) }
            } else {
                deadline = now.addingSaturating(nanoseconds)
                if !queue.knotes[knote].flags.contains(.oneshot) { period = nanoseconds }
            }
        }

        queue.timers.remove(knote)
        start(&queue.knotes[knote], change, deadline: deadline, period: period)
        return nil
    }

    /// Records a valid change in the knote, in one access to the table.
    private static func start(_ timer: inout Knote, _ change: KEvent, deadline: Int64, period: Int64) {
        timer.sfflags = change.fflags.rawValue
        timer.sdata = change.data
        timer.deadline = deadline
        timer.period = period
        timer.expirations = 0
        timer.isActive = false
    }
}
#endif
