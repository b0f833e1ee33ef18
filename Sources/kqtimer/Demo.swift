import ArgumentParser
import KQueue
import SystemPackage

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `kqtimer demo`: the classic two-timer kqueue example, blocking in the kernel between events.
package struct Demo: ParsableCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Run the classic example: timers 1 and 2 firing every 1000 and 1500 ms.",
        discussion: """
            Each poll that returns events prints '---', then 'Event with ID <ident> triggered' \
            for each event. The program sleeps in the kernel between events. Ctrl-C ends it.
            """
    )

    @Flag(help: "Fire each timer once (EV_ONESHOT); the demo ends when all have fired.")
    package var oneshot = false

    @Option(help: "Stop after N polls that returned events (1 to 1000000000).")
    package var count: Int?

    @Option(
        name: .customLong("timer"),
        help: ArgumentHelp(
            "A timer as ID:MILLISECONDS, e.g. 7:250 (repeatable; replaces the default timers). "
                + "0 ms fires at once, once; the longest is 86400000 (24 h).",
            valueName: "id:ms"
        ),
        transform: TimerSpec.parse
    )
    package var timers: [TimerSpec] = []

    package init() {}

    package func validate() throws {
        if let count {
            try checkCount("--count", count, in: 1...1_000_000_000)
        }
        var seen = Set<UInt>()
        for timer in timers where !seen.insert(timer.id).inserted {
            throw ValidationError("Timer ID \(timer.id) is given twice.")
        }
    }

    package func run() throws {
        let timers = self.timers.isEmpty ? TimerSpec.defaults : self.timers
        SignalFlag.installInterruptHandler()
        do {
            try Self.run(timers: timers, oneshot: oneshot, count: count, stop: { SignalFlag.interrupted }) { line in
                print(line)
            } flush: {
                fflush(stdout)
            }
        } catch {
            printError("Error: kqueue failed: \(error)")
            throw ExitCode.failure
        }
    }

    /// The demo's event loop, writing lines through `output`.
    ///
    /// - Returns: the number of polls that returned events.
    @discardableResult
    package static func run(
        timers: [TimerSpec],
        oneshot: Bool,
        count: Int?,
        stop: () -> Bool = { false },
        output: (String) -> Void,
        flush: () -> Void = {}
    ) throws(Errno) -> Int {
        let queue = try KQueue()
        defer { queue.close() }
        let flags: KEvent.Flags = oneshot ? [.add, .enable, .oneshot] : [.add, .enable]
        try queue.kevent(
            changes: timers.map { KEvent(ident: $0.id, filter: .timer, flags: flags, data: $0.milliseconds) }
        )

        var events = [KEvent](repeating: KEvent(), count: max(timers.count, 1))
        var polls = 0
        var fired = 0
        while !stop() {
            let n: Int
            do {
                n = try queue.kevent(changes: [], events: &events, timeout: nil)
            } catch .interrupted {
                continue  // `stop` decides whether a signal ends the loop.
            }
            guard n > 0 else { continue }
            output("---")
            for event in events[..<n] {
                output("Event with ID \(event.ident) triggered")
            }
            flush()
            polls += 1
            fired += n
            if let count, polls >= count { break }
            if oneshot && fired >= timers.count { break }
        }
        return polls
    }
}

/// A timer of the demo: `ID:MILLISECONDS`.
package struct TimerSpec: ExpressibleByArgument, Equatable, Sendable {
    package var id: UInt
    package var milliseconds: Int

    package static let defaults = [TimerSpec(id: 1, milliseconds: 1000), TimerSpec(id: 2, milliseconds: 1500)]

    package init(id: UInt, milliseconds: Int) {
        self.id = id
        self.milliseconds = milliseconds
    }

    /// The longest period, in milliseconds: 24 hours.
    package static let longest = 86_400_000

    package init?(argument: String) {
        guard let spec = try? Self.parse(argument) else { return nil }
        self = spec
    }

    /// Parses `ID:MILLISECONDS`; the error says which part is wrong and why.
    package static func parse(_ argument: String) throws -> TimerSpec {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw ValidationError("'\(argument)' is not a timer: write ID:MILLISECONDS, e.g. 7:250.")
        }
        guard let id = UInt(parts[0]) else {
            throw ValidationError("'\(argument)': the ID must be a whole number from 0 to \(UInt.max).")
        }
        guard let milliseconds = Int(parts[1]), (0...longest).contains(milliseconds) else {
            throw ValidationError(
                "'\(argument)': the period must be a whole number of milliseconds from 0 to \(longest) (24 h); "
                    + "0 fires at once.")
        }
        return TimerSpec(id: id, milliseconds: milliseconds)
    }

    package static var defaultCompletionKind: CompletionKind { .default }
}
