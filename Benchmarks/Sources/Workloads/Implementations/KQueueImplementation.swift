#if KQ_BENCH_PROJECT
import KQueue

/// `kqueue`: EVFILT_TIMER events through the project's `KQueue`, polled on the calling thread.
///
/// Timers are relative (`NOTE_NSECONDS` data = deadline − a time read just before the `kevent` call),
/// so the kernel's deadline is never earlier than ours. A periodic timer's `data` on return is the
/// number of expirations since the last retrieval, which `TickSink` counts as missed periods.
/// Used for `precision`, `idle` and `kevent` (which drives `KQueue` directly, see KEventWorkload).
final class KQueueImplementation: TimerImplementation {
    static let name = "kqueue"
    static let workloads: Set<WorkloadName> = [.precision, .idle, .kevent]

    private let queue: KQueue
    private var events = [KEvent](repeating: KEvent(), count: 256)
    private var periodicCount = 0

    init() throws {
        queue = try KQueue()
    }

    // MARK: One-shot

    func scheduleOneShots(sink: FireSink) throws {
        let now = MonotonicClock.now()
        let changes = (0..<sink.count).map { index in
            KEvent(
                ident: UInt(index),
                filter: .timer,
                flags: [.add, .oneshot],
                fflags: [.nseconds],
                data: Int(max(sink.deadlines[index] - now, 0)),
                udata: UInt(index)
            )
        }
        var noEvents: [KEvent] = []
        _ = try queue.kevent(changes: changes, events: &noEvents, timeout: .zero)
    }

    func cancelOneShots(order: [Int]) throws {
        let changes = order.map { KEvent(ident: UInt($0), filter: .timer, flags: [.delete]) }
        // Room for a receipt per change: a timer that already fired fails with ENOENT, reported there.
        var receipts = [KEvent](repeating: KEvent(), count: changes.count)
        _ = try queue.kevent(changes: changes, events: &receipts, timeout: .zero)
    }

    func waitForFires(sink: FireSink, until deadline: Int64) throws {
        try poll(until: deadline, isDone: { sink.isComplete }, handle: { sink.fired(Int($0.udata)) })
    }

    // MARK: Periodic

    func startPeriodic(firstDeadlines: [Int64], period: Int64, sink: TickSink) throws {
        // A periodic EVFILT_TIMER first expires one period after its registration, which is after the
        // workload computed `first = now + period`: it cannot express other phases (so no fleet).
        precondition(firstDeadlines.count == 1, "kqueue runs the single-timer precision workload only")
        periodicCount = firstDeadlines.count
        let changes = [
            KEvent(ident: 0, filter: .timer, flags: [.add, .enable], fflags: [.nseconds], data: Int(period), udata: 0)
        ]
        var noEvents: [KEvent] = []
        _ = try queue.kevent(changes: changes, events: &noEvents, timeout: .zero)
    }

    func waitForTicks(sink: TickSink, until deadline: Int64) throws {
        try poll(
            until: deadline,
            isDone: { sink.isComplete },
            handle: { sink.tick(Int($0.udata), expirations: $0.data) }
        )
    }

    func stopPeriodic() throws {
        let changes = (0..<periodicCount).map { KEvent(ident: UInt($0), filter: .timer, flags: [.delete]) }
        var receipts = [KEvent](repeating: KEvent(), count: changes.count)
        _ = try queue.kevent(changes: changes, events: &receipts, timeout: .zero)
        periodicCount = 0
    }

    // MARK: Poll

    private func poll(until deadline: Int64, isDone: () -> Bool, handle: (KEvent) -> Void) throws {
        while !isDone() {
            let remaining = deadline - MonotonicClock.now()
            guard remaining > 0 else { return }
            let filled = try queue.kevent(changes: [], events: &events, timeout: .nanoseconds(remaining))
            for event in events.prefix(filled) {
                handle(event)
            }
        }
    }
}
#endif
