#if KQ_BENCH_PROJECT
import KQueue

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#endif

/// kevent: register N one-shot EVFILT_TIMER events with data uniform[1, 1000] ms in one queue, then
/// poll until all have been returned.
///
/// `ns_per_registration` is the batched path (changes of `batchSize` per `kevent` call);
/// `ns_per_single_registration` is one change per `kevent` call, measured first on a scratch queue.
/// `wall_ms` is the time from the first registration to the last event, minus 1 s (the longest timer).
/// An event's lateness is against the time read just before its registration call + its data.
enum KEventWorkload {
    static let batchSize = 1_024

    static func run(_ type: any TimerImplementation.Type, parameters: WorkloadParameters) throws -> WorkloadResult {
        #if KQ_BENCH_PROJECT
        let n = parameters.count(.kevent)
        var random = SeededRandom()
        let milliseconds = random.uniform(n, in: parameters.keventMilliseconds)
        DescriptorLimit.raise()  // in case the emulation keeps a descriptor per timer
        var result = WorkloadResult(workload: .kevent, impl: type.name, n: n)

        let singleChange = try registerOneChangePerCall(milliseconds)

        let queue = try KQueue()
        var registeredAt = [Int64](repeating: 0, count: n)
        let start = MonotonicClock.now()
        var changes: [KEvent] = []
        changes.reserveCapacity(batchSize)
        var noEvents: [KEvent] = []
        for batchStart in stride(from: 0, to: n, by: batchSize) {
            changes.removeAll(keepingCapacity: true)
            let batch = batchStart..<min(batchStart + batchSize, n)
            for index in batch {
                changes.append(oneShot(index, milliseconds: milliseconds[index]))
            }
            let now = MonotonicClock.now()
            for index in batch { registeredAt[index] = now }
            _ = try queue.kevent(changes: changes, events: &noEvents, timeout: .zero)
        }
        let registered = MonotonicClock.now()

        var returned = [Bool](repeating: false, count: n)
        var lateness = [Int64](repeating: FireSink.notFired, count: n)
        var events = [KEvent](repeating: KEvent(), count: batchSize)
        var count = 0
        var early = 0
        var duplicates = 0
        var last = registered
        let giveUp = registered + 1_000 * .nanosecondsPerMillisecond + parameters.keventGrace
        while count < n {
            let now = MonotonicClock.now()
            guard now < giveUp else { break }
            let filled = try queue.kevent(changes: [], events: &events, timeout: .nanoseconds(giveUp - now))
            last = MonotonicClock.now()
            for event in events.prefix(filled) {
                let index = Int(event.udata)
                guard index < n else { continue }
                if returned[index] {
                    duplicates += 1
                    continue
                }
                returned[index] = true
                count += 1
                let late = last - (registeredAt[index] + milliseconds[index] * .nanosecondsPerMillisecond)
                lateness[index] = late
                if late < 0 { early += 1 }
            }
        }

        let statistics = LatenessStatistics(nanoseconds: lateness)
        result.set("ns_per_registration", Double(registered - start) / Double(n))
        result.set("ns_per_single_registration", singleChange)
        result.set("wall_ms", Double(last - start) / 1e6 - 1_000)
        result.set("events", count)
        result.check(
            n - count,
            "events lost (not returned \(parameters.keventGrace / .nanosecondsPerSecond) s after the last deadline)"
        )
        result.check(early, "events returned before their deadline")
        result.check(duplicates, "events returned twice")
        result.notes.append(
            "ns_per_registration is batched (\(batchSize) changes per call); "
                + "ns_per_single_registration is one change per call"
        )
        result.notes.append(
            "lateness µs p50 / p99 / max: "
                + [
                    statistics.microseconds(atPercentile: 50), statistics.microseconds(atPercentile: 99),
                    statistics.maxMicroseconds,
                ]
                .map { JSONLine.number($0, decimals: 1) }.joined(separator: " / ")
        )
        return result
        #else
        throw KEventWorkloadError.projectNotBuilt
        #endif
    }

    #if KQ_BENCH_PROJECT
    private static func oneShot(_ index: Int, milliseconds: Int64) -> KEvent {
        KEvent(
            ident: UInt(index),
            filter: .timer,
            flags: [.add, .oneshot],
            data: Int(milliseconds),
            udata: UInt(index)
        )
    }

    /// ns per registration with one change per `kevent` call, on a scratch queue that is emptied again
    /// (timers that already fired make their deletion fail: those failures are ignored).
    private static func registerOneChangePerCall(_ milliseconds: [Int64]) throws -> Double {
        let queue = try KQueue()
        var noEvents: [KEvent] = []
        var change = [KEvent()]
        let start = MonotonicClock.now()
        for index in milliseconds.indices {
            change[0] = oneShot(index, milliseconds: milliseconds[index])
            _ = try queue.kevent(changes: change, events: &noEvents, timeout: .zero)
        }
        let elapsed = MonotonicClock.now() - start
        var receipts = [KEvent](repeating: KEvent(), count: batchSize)
        for batchStart in stride(from: 0, to: milliseconds.count, by: batchSize) {
            let deletions = (batchStart..<min(batchStart + batchSize, milliseconds.count)).map {
                KEvent(ident: UInt($0), filter: .timer, flags: [.delete])
            }
            _ = try? queue.kevent(changes: deletions, events: &receipts, timeout: .zero)
        }
        return Double(elapsed) / Double(milliseconds.count)
    }
    #endif
}

enum KEventWorkloadError: Error {
    case projectNotBuilt
}
