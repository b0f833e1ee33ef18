import ArgumentParser
import KQueue  // re-exports Errno
import TestSupport
import Testing
import kqtimer

/// How the command line speaks: help, defaults, units, bounds, messages and exit statuses.
@Suite("Command line", .blocking)
struct CLITests {
    @Test("durations accept ns, us, µs, ms, s, m and h, and print as written")
    func durations() throws {
        let cases: [(String, Duration)] = [
            ("10ns", .nanoseconds(10)), ("500us", .microseconds(500)), ("500µs", .microseconds(500)),
            ("250ms", .milliseconds(250)), ("1.5s", .milliseconds(1500)), ("2m", .seconds(120)),
            ("1h", .seconds(3600)), ("0s", .zero),
        ]
        for (text, duration) in cases {
            #expect(try DurationArgument.parse(text).duration == duration, "\(text)")
        }
        #expect(DurationArgument(duration: .seconds(5)).description == "5s")
        #expect(DurationArgument(duration: .milliseconds(250)).description == "250ms")
        #expect(DurationArgument(duration: .milliseconds(1500)).description == "1500ms")
        #expect(DurationArgument(duration: .seconds(5400)).description == "90m")
        #expect(DurationArgument(duration: .nanoseconds(20_900_001)).description == "20900001ns")
    }

    @Test("a value that is not a duration is refused with the list of units")
    func durationMessages() {
        for argument in ["5", "fast", "5 s", "5d", "-5ms", "+5ms", "nanms"] {
            let error = #expect(throws: (any Error).self) { try EchoServerCommand.parse(["--idle-timeout=\(argument)"]) }
            let message = EchoServerCommand.message(for: error!)
            #expect(message.contains("ns, us (or µs), ms, s, m, h") || message.contains("cannot be negative"), "\(message)")
        }
    }

    @Test("help shows defaults as a user writes them", arguments: [
        (["echo-server", "--help"], ["(default: 5s)", "(default: 1s)"]),
        (["echo-client", "--help"], ["(default: 120s)", "(default: 5s)"]),
        (["every", "--help"], ["(default: 8)", "ns, us (or µs), ms, s, m, h"]),
    ])
    func helpDefaults(arguments: [String], expected: [String]) throws {
        let subcommand: any ParsableCommand.Type =
            switch arguments[0] {
            case "echo-server": EchoServerCommand.self
            case "echo-client": EchoClientCommand.self
            default: Every.self
            }
        let help = KQTimer.helpMessage(for: subcommand, columns: 400)
        for text in expected { #expect(help.contains(text), "\(text) in:\n\(help)") }
        #expect(!help.contains("DurationArgument("))
    }

    @Test("counts and durations have upper bounds, checked before anything starts, with a clear message (issue 10, fault 7)")
    func bounds() {
        let cases: [(any ParsableCommand.Type, [String], String)] = [
            (EchoServerCommand.self, ["--report-interval", "3000000000s"], "--report-interval must be from 0s to 24h"),
            (EchoServerCommand.self, ["--idle-timeout", "48h"], "--idle-timeout must be from 1ms to 24h"),
            (EchoServerCommand.self, ["--max-connections", "99999999999"], "--max-connections must be from 1 to 1000000"),
            (EchoClientCommand.self, ["--connections", "1000000000000"], "--connections must be from 1 to 1000000"),
            (EchoClientCommand.self, ["--echoes", "5000000"], "--echoes must be from 0 to 1000000"),
            (Every.self, ["25h"], "The period must be from 1ns to 24h"),
            (Every.self, ["1s", "--count", "99999999999"], "--count must be from 1 to 1000000000"),
            (Every.self, ["1s", "--spin", "2s"], "--spin must be from 0s to 1s"),
            (Demo.self, ["--count", "1000000001"], "--count must be from 1 to 1000000000"),
        ]
        for (command, arguments, expected) in cases {
            let error = #expect(throws: (any Error).self) { try command.parse(arguments) }
            let message = command.message(for: error!)
            #expect(message.contains(expected), "\(arguments): \(message)")
            #expect(command.exitCode(for: error!) == .validationFailure, "\(arguments)")  // 64, with usage
        }
    }

    @Test("--version prints the version")
    func version() {
        let error = #expect(throws: (any Error).self) { try KQTimer.parseAsRoot(["--version"]) }
        #expect(KQTimer.message(for: error!) == KQTimer.version)
        #expect(KQTimer.exitCode(for: error!) == .success)
    }

    @Test("a runtime failure (a host that does not resolve, a port in use) is 'Error: …' with status 1, not usage")
    func runtimeFailures() throws {
        let unresolvable = try EchoServerCommand.parse(["--host", "no-such-host.invalid", "--port", "0"])
        #expect(throws: ExitCode.failure) { try unresolvable.run() }
        let client = try EchoClientCommand.parse(["--host", "no-such-host.invalid", "--port", "1"])
        #expect(throws: ExitCode.failure) { try client.run() }

        var configuration = EchoServer.Configuration()
        configuration.port = 0
        let first = try EchoServer(configuration)
        configuration.port = first.port
        let error = #expect(throws: EchoError.self) { try EchoServer(configuration) }
        #expect(error?.errno == .addressInUse)
        #expect(error?.description.hasPrefix("cannot listen on 127.0.0.1:\(first.port): ") == true)
    }
}
