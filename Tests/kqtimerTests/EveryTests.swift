import ArgumentParser
import KQueueTimers
import TestSupport
import Testing
import kqtimer

/// `kqtimer every`: its arguments.
@Suite("Every", .blocking)
struct EveryTests {
    @Test("every parses a period with its unit, a count, a missed-tick policy and a spin")
    func arguments() throws {
        let defaults = try Every.parse(["250ms"])
        #expect(defaults.period.duration == .milliseconds(250))
        #expect(defaults.count == 8 && defaults.missedTicks.policy == .skip && defaults.spin == nil)
        let custom = try Every.parse(["1.5s", "--count", "3", "--missed-ticks", "burst", "--spin", "50us"])
        #expect(custom.period.duration == .milliseconds(1500))
        #expect(custom.count == 3 && custom.missedTicks.policy == .burst)
        #expect(custom.spin?.duration == .microseconds(50))
        #expect(try Every.parse(["10ns"]).period.duration == .nanoseconds(10))
        #expect(try KQTimer.parseAsRoot(["every", "1s"]) is Every)
    }

    @Test(
        "every rejects a missing, zero, unitless or malformed period, a count below 1 and an unknown policy",
        arguments: [[], ["0ms"], ["250"], ["fast"], ["-5ms"], ["1ms", "--count", "0"], ["1ms", "--missed-ticks", "often"]]
    )
    func rejects(arguments: [String]) {
        #expect(throws: (any Error).self) { try Every.parse(arguments) }
    }
}
