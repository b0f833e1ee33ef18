#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Lines from a child process's output pipe, each awaited with a time limit, so that a server or
/// load generator that hangs fails its run instead of hanging the runner.
final class LineReader {
    private let descriptor: CInt
    private var pending: [UInt8] = []
    private(set) var ended = false

    /// Reads `descriptor` (not owned: the `Pipe` closes it).
    init(_ descriptor: CInt) {
        self.descriptor = descriptor
    }

    /// The next line, without its newline; nil at the end of the output or once `deadline`
    /// (monotonic ns) has passed.
    func next(before deadline: Int64) -> String? {
        while true {
            if let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                return line
            }
            if ended {
                guard !pending.isEmpty else { return nil }
                defer { pending = [] }
                return String(decoding: pending, as: UTF8.self)
            }
            let remaining = deadline - MonotonicClock.now()
            guard remaining > 0 else { return nil }
            var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&request, 1, CInt(min(remaining / 1_000_000 + 1, 1_000)))
            if ready < 0 && errno != EINTR { ended = true }
            guard ready > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 4_096)
            let count = read(descriptor, &buffer, buffer.count)
            if count > 0 {
                pending += buffer[..<count]
            } else if count == 0 || errno != EINTR {
                ended = true
            }
        }
    }

    /// The next line that `matches`, skipping others; nil as `next(before:)`.
    func next(before deadline: Int64, where matches: (String) -> Bool) -> String? {
        while let line = next(before: deadline) {
            if matches(line) { return line }
        }
        return nil
    }

    /// Every line left, until the end of the output or `deadline`.
    func rest(before deadline: Int64) -> [String] {
        var lines: [String] = []
        while let line = next(before: deadline) { lines.append(line) }
        return lines
    }
}
