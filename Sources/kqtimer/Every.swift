import ArgumentParser
import Dispatch
import KQueueTimers
import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `kqtimer every`: a periodic timer on a KQueueLoop, printed tick by tick.
package struct Every: ParsableCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Run a periodic timer on a KQueueLoop and print each tick's lateness.",
        discussion: """
            Ticks stay on the grid start + k·period. Each line shows the tick's number, its \
            grid deadline since the start, how late it ran, and how many ticks it skipped. \
            With --tolerance the loop may run each tick up to that much late (never early), \
            to share its wake-ups with other timers.
            """
    )

    @Argument(
        help: ArgumentHelp(
            "The period, e.g. 250ms, 1s, 500us (units: \(DurationArgument.unitList); at most 24h).",
            valueName: "period"),
        transform: DurationArgument.parse
    )
    package var period: DurationArgument

    @Option(help: "Stop after N ticks (1 to 1000000000).")
    package var count: Int = 8

    @Option(help: "What to do when a tick is late: burst, skip or delay.")
    package var missedTicks: PolicyArgument = .skip

    @Option(
        help: ArgumentHelp("Wake this long before each deadline and spin, e.g. 50us (at most 1s).", valueName: "duration"),
        transform: DurationArgument.parse
    )
    package var spin: DurationArgument?

    @Option(
        help: ArgumentHelp(
            "How late each tick may run, e.g. 1ms (at most 1s; default: the loop's, 100us).",
            valueName: "duration"),
        transform: DurationArgument.parse
    )
    package var tolerance: DurationArgument?

    package init() {}

    package func validate() throws {
        guard period.duration > .zero else { throw ValidationError("The period must be positive.") }
        try period.check("The period", in: .nanoseconds(1)...longestDuration)
        try checkCount("--count", count, in: 1...1_000_000_000)
        try spin?.check("--spin", in: .zero...(.seconds(1)))
        try tolerance?.check("--tolerance", in: .zero...(.seconds(1)))
    }

    package func run() throws {
        // Ctrl-C (or SIGTERM) ends the ticks early, with status 0, as in `demo`.
        let finished = DispatchSemaphore(value: 0)
        let signalSources = [SIGINT, SIGTERM].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { finished.signal() }
            source.resume()
            return source
        }
        defer { signalSources.forEach { $0.cancel() } }
        let scheduler: KQueueLoop
        do {
            scheduler = try KQueueLoop(spin: spin?.duration ?? .zero)
        } catch {
            printError("Error: cannot start the loop: \(error)")
            throw ExitCode.failure
        }
        defer { scheduler.shutdown() }
        let start = scheduler.now
        let ticks = Atomic<Int>(0)
        let limit = count
        let timer = scheduler.schedule(
            every: period.duration,
            startingAt: start,
            tolerance: tolerance?.duration,
            missedTicks: missedTicks.policy
        ) { tick in
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
