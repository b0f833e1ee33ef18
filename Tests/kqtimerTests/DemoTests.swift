import ArgumentParser
import Testing
import kqtimer

/// `kqtimer demo`: its arguments and its output.
@Suite("Demo")
struct DemoTests {
    @Test("demo defaults to timers 1 and 2 every 1000 and 1500 ms; --timer replaces them")
    func arguments() throws {
        let defaults = try Demo.parse([])
        #expect(defaults.timers.isEmpty && !defaults.oneshot && defaults.count == nil)
        #expect(TimerSpec.defaults == [TimerSpec(id: 1, milliseconds: 1000), TimerSpec(id: 2, milliseconds: 1500)])
        let custom = try Demo.parse(["--timer", "7:250", "--timer", "9:40", "--oneshot", "--count", "3"])
        #expect(custom.timers == [TimerSpec(id: 7, milliseconds: 250), TimerSpec(id: 9, milliseconds: 40)])
        #expect(custom.oneshot && custom.count == 3)
        #expect(try KQTimer.parseAsRoot(["demo", "--count", "2"]) is Demo)
    }

    @Test(
        "demo rejects malformed timers, duplicate IDs, periods too long for nanoseconds and a count below 1",
        arguments: [
            ["--timer", "7"], ["--timer", "7:"], ["--timer", "x:10"], ["--timer", "7:0"], ["--timer", "7:-5"],
            ["--timer", "7:10", "--timer", "7:20"], ["--timer", "7:99999999999999999"], ["--count", "0"],
        ]
    )
    func rejects(arguments: [String]) {
        #expect(throws: (any Error).self) { try Demo.parse(arguments) }
    }

    @Test("each poll prints '---' then one line per event; oneshot timers end the demo in deadline order")
    func oneshotOutput() throws {
        var lines: [String] = []
        let polls = try Demo.run(
            timers: [TimerSpec(id: 8, milliseconds: 60), TimerSpec(id: 7, milliseconds: 20)],
            oneshot: true,
            count: nil
        ) { lines.append($0) }
        #expect(polls == 2)
        #expect(lines == ["---", "Event with ID 7 triggered", "---", "Event with ID 8 triggered"])
    }

    @Test("--count stops after that many polls that returned events")
    func countOutput() throws {
        var lines: [String] = []
        let polls = try Demo.run(timers: [TimerSpec(id: 5, milliseconds: 15)], oneshot: false, count: 3) {
            lines.append($0)
        }
        #expect(polls == 3)
        #expect(lines == Array(repeating: ["---", "Event with ID 5 triggered"], count: 3).flatMap { $0 })
    }
}
