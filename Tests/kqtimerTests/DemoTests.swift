import ArgumentParser
import TestSupport
import Testing
import kqtimer

/// `kqtimer demo`: its arguments and its output.
@Suite("Demo", .blocking)
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
        "demo rejects malformed timers, duplicate IDs, periods over 24 h and a count outside 1...1000000000",
        arguments: [
            ["--timer", "7"], ["--timer", "7:"], ["--timer", "x:10"], ["--timer", "7:-5"],
            ["--timer", "7:10", "--timer", "7:20"], ["--timer", "7:99999999999999999"], ["--timer", "7:86400001"],
            ["--count", "0"], ["--count", "1000000001"],
        ]
    )
    func rejects(arguments: [String]) {
        #expect(throws: (any Error).self) { try Demo.parse(arguments) }
    }

    @Test("--timer accepts 0 ms (it fires at once, as kqueue does) and says why a value is refused")
    func timerMessages() throws {
        #expect(try Demo.parse(["--timer", "7:0"]).timers == [TimerSpec(id: 7, milliseconds: 0)])
        #expect(try Demo.parse(["--timer", "7:86400000"]).timers == [TimerSpec(id: 7, milliseconds: 86_400_000)])
        for (argument, reason) in [
            ("7", "write ID:MILLISECONDS"), ("x:10", "the ID must be a whole number"),
            ("7:-5", "the period must be a whole number of milliseconds from 0 to 86400000"),
            ("7:1.5", "the period must be a whole number of milliseconds"),
        ] {
            let message = Demo.message(for: #expect(throws: (any Error).self) { try Demo.parse(["--timer", argument]) }!)
            #expect(message.contains(reason), "\(argument): \(message)")
        }
    }

    @Test("each poll prints '---' then one line per event; oneshot timers end the demo in deadline order")
    func oneshotOutput() throws {
        var lines: [String] = []
        let polls = try Demo.run(
            timers: [TimerSpec(id: 8, milliseconds: 60), TimerSpec(id: 7, milliseconds: 20)],
            oneshot: true,
            count: nil
        ) { lines.append($0) }
        // On a loaded machine both may be due by the time of the first poll: then one poll
        // returns both. Either way 7 comes no later than 8, and each fires once.
        if polls == 2 {
            #expect(lines == ["---", "Event with ID 7 triggered", "---", "Event with ID 8 triggered"])
        } else {
            #expect(polls == 1)
            #expect(lines.sorted() == ["---", "Event with ID 7 triggered", "Event with ID 8 triggered"])
        }
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
