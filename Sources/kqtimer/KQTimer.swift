import ArgumentParser

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `kqtimer`: shows and measures the KQueue and KQueueTimers libraries.
@main
package struct KQTimer: ParsableCommand {
    /// The version `--version` prints (CHANGELOG.md).
    package static let version = "0.1.0"

    package static let configuration = CommandConfiguration(
        commandName: "kqtimer",
        abstract: "Timers on kqueue(2): native on macOS and the BSDs, emulated on Linux.",
        version: version,
        subcommands: [Demo.self, Every.self, Watch.self, EchoServerCommand.self, EchoClientCommand.self]
    )

    package init() {}
}

/// Writes a line to standard error.
func printError(_ message: String) {
    fputs(message + "\n", stderr)
}
