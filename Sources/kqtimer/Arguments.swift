import ArgumentParser

/// A duration on the command line: a number and a unit, e.g. `250ms`, `1.5s`, `2m`.
///
/// The units are `ns`, `us` (or `µs`), `ms`, `s`, `m` and `h`. Help shows a default as it is
/// written (`5s`), and a value that is not a duration is refused with the list of units.
package struct DurationArgument: ExpressibleByArgument, CustomStringConvertible, Equatable, Sendable {
    package var duration: Duration
    /// The text it was parsed from, for messages.
    private var written: String?

    /// The units, longest suffix first where one ends another (`ms` before `s`).
    static let units: [(suffix: String, nanoseconds: Double)] = [
        ("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
    ]

    /// The units as help and error messages list them.
    package static let unitList = "ns, us (or µs), ms, s, m, h"

    package init(duration: Duration) {
        self.duration = duration
    }

    package init?(argument: String) {
        guard let value = try? Self.parse(argument) else { return nil }
        self = value
    }

    /// Parses `250ms`, `1.5s`, `2m` …; the error says what is wrong and which units exist.
    package static func parse(_ argument: String) throws -> DurationArgument {
        for (suffix, nanoseconds) in units where argument.hasSuffix(suffix) {
            let number = argument.dropLast(suffix.count)
            guard let value = Double(number), value.isFinite, !number.hasPrefix("+") else { break }
            guard value >= 0 else { throw ValidationError("'\(argument)': a duration cannot be negative.") }
            let total = (value * nanoseconds).rounded(.up)
            guard total < 9e18 else { throw ValidationError("'\(argument)' is too long.") }
            var parsed = DurationArgument(duration: .nanoseconds(Int64(total)))
            parsed.written = argument
            return parsed
        }
        throw ValidationError(
            "'\(argument)' is not a duration: write a number and a unit (\(unitList)), e.g. 250ms or 1.5s.")
    }

    /// The text it was parsed from, or the duration in the largest unit that writes it as a
    /// whole number: `5s`, `250ms`, `90m`.
    package var description: String {
        if let written { return written }
        let (seconds, attoseconds) = duration.components
        let nanoseconds = Int64(clamping: Int128(seconds) * 1_000_000_000 + Int128(attoseconds / 1_000_000_000))
        guard nanoseconds != 0 else { return "0s" }
        for (suffix, size) in [("h", Int64(3_600_000_000_000)), ("m", 60_000_000_000), ("s", 1_000_000_000),
            ("ms", 1_000_000), ("us", 1_000)] where nanoseconds % size == 0
        {
            return "\(nanoseconds / size)\(suffix)"
        }
        return "\(nanoseconds)ns"
    }

    package var defaultValueDescription: String { description }

    package static func == (lhs: Self, rhs: Self) -> Bool { lhs.duration == rhs.duration }

    /// Refuses a duration outside `range`, naming the option.
    package func check(_ option: String, in range: ClosedRange<Duration>) throws {
        guard range.contains(duration) else {
            throw ValidationError(
                "\(option) must be from \(DurationArgument(duration: range.lowerBound)) to "
                    + "\(DurationArgument(duration: range.upperBound)), not \(self).")
        }
    }
}

/// Refuses a count outside `range`, naming the option.
func checkCount(_ option: String, _ value: Int, in range: ClosedRange<Int>) throws {
    guard range.contains(value) else {
        throw ValidationError("\(option) must be from \(range.lowerBound) to \(range.upperBound), not \(value).")
    }
}

/// The longest duration any option accepts.
let longestDuration = Duration.seconds(24 * 3600)
