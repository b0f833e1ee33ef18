import ArgumentParser

/// `kqtimer`: shows and measures the KQueue and KQueueTimers libraries.
@main
struct KQTimer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kqtimer",
        abstract: "Timers on kqueue(2): native on macOS and the BSDs, emulated on Linux.",
        subcommands: [Demo.self, Every.self]
    )
}
