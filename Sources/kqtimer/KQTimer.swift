import ArgumentParser

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `kqtimer`: shows and measures the KQueue and KQueueTimers libraries.
@main
package struct KQTimer: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "kqtimer",
        abstract: "Timers on kqueue(2): native on macOS and the BSDs, emulated on Linux.",
        subcommands: [Demo.self, Every.self, EchoServerCommand.self, EchoClientCommand.self]
    )

    package init() {}
}

/// Writes a line to standard error.
func printError(_ message: String) {
    fputs(message + "\n", stderr)
}
