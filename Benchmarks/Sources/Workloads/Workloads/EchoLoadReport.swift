/// What the echo load generator reports to the workload at the end of its run: one line on its
/// stdout, `marker` + this as JSON.
struct EchoLoadReport: Codable, Sendable {
    static let marker = "@@echo-load "

    var connections = 0
    /// Connections that were open and had echoed their warm-up message when the timed part began.
    var connected = 0
    /// The round trips asked for on each connection.
    var roundTripsPerConnection = 0
    var size = 0
    /// Round trips that came back complete and correct in the timed part.
    var roundTrips = 0
    /// From the first send of the timed part to its last reply, seconds.
    var seconds = 0.0
    var latencyMicrosecondsP50 = 0.0
    var latencyMicrosecondsP99 = 0.0
    var latencyMicrosecondsMax = 0.0
    /// How long opening the connections and their warm-up round trips took, seconds.
    var setupSeconds = 0.0
    /// The generator's own CPU time (user + sys) during the timed part, over its wall time: near
    /// 1 means the generator, not the server, was the bottleneck.
    var cpuFraction = 0.0

    // Errors; each connection fails at most once, and is closed then.
    var connectFailures = 0
    /// ECONNRESET or EPIPE on a connection.
    var resets = 0
    /// The server closed a connection before all its replies (a partial reply included).
    var closedEarly = 0
    /// A complete reply whose bytes differ from what was sent.
    var wrongReplies = 0
    /// Connections still waiting for a reply when the time limit passed.
    var timedOut = 0
    /// Other failures of a socket call.
    var otherFailures = 0
    /// The last errno text seen, for the notes.
    var lastError: String?

    var errors: Int { connectFailures + resets + closedEarly + wrongReplies + timedOut + otherFailures }

    /// The errors by cause, e.g. "3 resets, 1 wrong reply"; empty if there were none.
    var errorSummary: String {
        let causes: [(Int, String)] = [
            (connectFailures, "connect failures"), (resets, "resets"), (closedEarly, "closed early by the server"),
            (wrongReplies, "wrong replies"), (timedOut, "timed out"), (otherFailures, "other failures"),
        ]
        var text = causes.filter { $0.0 > 0 }.map { "\($0.0) \($0.1)" }.joined(separator: ", ")
        if let lastError, !text.isEmpty { text += " (last: \(lastError))" }
        return text
    }
}
