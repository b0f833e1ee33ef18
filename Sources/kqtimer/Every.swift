import ArgumentParser
import Dispatch
import KQueueTimers
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `kqtimer every`: a periodic timer on the KQueueLoop, printed tick by tick.
package struct Every: ParsableCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Run a periodic timer on the scheduler and print each tick's lateness.",
        discussion: """
            Ticks stay on the grid start + k·period. Each line shows the tick's number, its \
            grid deadline since the start, how late it ran, and how many ticks it skipped.
            """
    )

    @Argument(help: ArgumentHelp("The period, e.g. 250ms, 1s, 500us.", valueName: "period"))
    package var period: DurationArgument

    @Option(help: "Stop after N ticks.")
    package var count: Int = 8

    @Option(help: "What to do when a tick is late: burst, skip or delay.")
    package var missedTicks: PolicyArgument = .skip

    @Option(help: ArgumentHelp("Wake this long before each deadline and spin (e.g. 50us).", valueName: "duration"))
    package var spin: DurationArgument?

    package init() {}

    package func validate() throws {
        guard period.duration > .zero else { throw ValidationError("The period must be positive.") }
        guard count >= 1 else { throw ValidationError("--count must be at least 1, not \(count).") }
    }

    package func run() throws {
        let scheduler = try KQueueLoop(spin: spin?.duration ?? .zero)
        defer { scheduler.shutdown() }
        let start = scheduler.now
        let ticks = Atomic<Int>(0)
        let finished = DispatchSemaphore(value: 0)
        let limit = count
        let timer = scheduler.schedule(every: period.duration, startingAt: start, missedTicks: missedTicks.policy) {
            tick in
            let late = tick.deadline.duration(to: scheduler.now)
            let number = ticks.add(1, ordering: .relaxed).newValue
            print(
                "tick \(number)  deadline +\(format(start.duration(to: tick.deadline)))  late \(format(late))"
                    + "  missed \(tick.missed)"
            )
            fflush(stdout)
            if number == limit { finished.signal() }
        }
        finished.wait()
        timer.cancel()
    }
}

/// Formats a duration as ms or µs with three decimals.
func format(_ duration: Duration) -> String {
    let nanoseconds = duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    if abs(nanoseconds) >= 1_000_000 {
        return String(format3: Double(nanoseconds) / 1e6) + " ms"
    }
    return String(format3: Double(nanoseconds) / 1e3) + " µs"
}

extension String {
    init(format3 value: Double) {
        let scaled = (value * 1000).rounded()
        let whole = Int(scaled / 1000)
        let fraction = Int(abs(scaled).truncatingRemainder(dividingBy: 1000))
        let sign = value < 0 && whole == 0 ? "-" : ""
        self = sign + String(whole) + "." + String(repeating: "0", count: 3 - String(fraction).count) + String(fraction)
    }
}

/// A duration on the command line: a number and a unit (ns, us, ms, s), e.g. 250ms or 1.5s.
package struct DurationArgument: ExpressibleByArgument, Sendable {
    package var duration: Duration

    package init(duration: Duration) {
        self.duration = duration
    }

    package init?(argument: String) {
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9)]
        for (suffix, nanoseconds) in units where argument.hasSuffix(suffix) {
            guard let value = Double(argument.dropLast(suffix.count)), value.isFinite, value >= 0,
                value * nanoseconds < 9e18
            else { return nil }
            duration = .nanoseconds(Int64((value * nanoseconds).rounded()))
            return
        }
        return nil
    }
}

/// A missed-tick policy on the command line.
package struct PolicyArgument: ExpressibleByArgument {
    package var policy: MissedTickPolicy

    package static let skip = PolicyArgument(policy: .skip)

    package init(policy: MissedTickPolicy) {
        self.policy = policy
    }

    package init?(argument: String) {
        switch argument {
        case "burst": policy = .burst
        case "skip": policy = .skip
        case "delay": policy = .delay
        default: return nil
        }
    }

    package static var allValueStrings: [String] { ["burst", "skip", "delay"] }

    package var defaultValueDescription: String {
        switch policy {
        case .burst: "burst"
        case .skip: "skip"
        case .delay: "delay"
        }
    }
}
