import ArgumentParser
import KQueue
import SystemPackage

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `kqtimer watch`: EVFILT_VNODE and EVFILT_READ at work, printing each change to the files
/// and directories it watches as it happens.
package struct Watch: ParsableCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Print each change to files and directories as it happens (EVFILT_VNODE).",
        discussion: """
            Each change prints a line 'PATH: what', what being written, extended, attributes, \
            link count, renamed, deleted or revoked; several changes between two looks share \
            one line. A file is watched through its descriptor, so the watch follows it when it \
            is renamed or deleted. With --follow the bytes appended to a regular file are \
            printed as they come (EVFILT_READ), like tail -f: from its end at the start, and from \
            its start again after a truncation. The program waits in the kernel between changes. \
            Ctrl-C ends it.
            """
    )

    @Argument(help: ArgumentHelp("The files and directories to watch.", valueName: "path"))
    package var paths: [String] = []

    @Flag(help: "Print the bytes appended to each regular file, like tail -f.")
    package var follow = false

    @Option(help: "Stop after N events: change lines and appends (1 to 1000000000).")
    package var count: Int?

    package init() {}

    package func validate() throws {
        guard !paths.isEmpty else { throw ValidationError("Name at least one file or directory to watch.") }
        if let count {
            try checkCount("--count", count, in: 1...1_000_000_000)
        }
    }

    package func run() throws {
        SignalFlag.installInterruptHandler()
        do {
            try Self.run(paths: paths, follow: follow, count: count, stop: { SignalFlag.interrupted }) { line in
                print(line)
                fflush(stdout)
            } bytes: { bytes in
                _ = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, stdout) }
                fflush(stdout)
            }
        } catch {
            printError("Error: \(error)")
            throw ExitCode.failure
        }
    }

    /// Why watching failed: a path that cannot be opened, or the queue.
    package struct Failure: Error, CustomStringConvertible {
        package var path: String?
        package var errno: Errno

        package var description: String {
            if let path { "cannot open \(path): \(errno)" } else { "kqueue failed: \(errno)" }
        }
    }

    /// The changes an EVFILT_VNODE knote is registered for: all of them.
    static let changes: KEvent.FilterFlags = [.delete, .write, .extend, .attrib, .link, .rename, .revoke]

    /// The words for the changes in `fflags`, in a fixed order.
    package static func describe(_ fflags: KEvent.FilterFlags) -> [String] {
        let names: [(KEvent.FilterFlags, String)] = [
            (.write, "written"), (.extend, "extended"), (.attrib, "attributes"), (.link, "link count"),
            (.rename, "renamed"), (.delete, "deleted"), (.revoke, "revoked"),
        ]
        return names.filter { fflags.contains($0.0) }.map(\.1)
    }

    /// Watches `paths` until `count` events were printed or `stop` says so (it is asked after
    /// each wait, which a signal interrupts), writing change lines through `line` and appended
    /// bytes through `bytes`.
    ///
    /// - Parameter ready: called once every path is watched, before the first wait.
    /// - Returns: the number of events printed.
    @discardableResult
    package static func run(
        paths: [String],
        follow: Bool,
        count: Int?,
        stop: () -> Bool = { false },
        ready: () -> Void = {},
        line: (String) -> Void,
        bytes: ([UInt8]) -> Void
    ) throws(Failure) -> Int {
        var descriptors: [CInt] = []
        defer { for fd in descriptors { close(fd) } }
        var isRegularFile: [Bool] = []
        for path in paths {
            // O_NONBLOCK: opening a FIFO must not wait for a writer.
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
            guard fd >= 0 else { throw Failure(path: path, errno: Errno(rawValue: errno)) }
            descriptors.append(fd)
            var info = stat()
            isRegularFile.append(fstat(fd, &info) == 0 && Int(info.st_mode) & Int(S_IFMT) == Int(S_IFREG))
        }
        do throws(Errno) {
            return try watch(
                paths, descriptors, isRegularFile, follow: follow, count: count, stop: stop, ready: ready,
                line: line, bytes: bytes)
        } catch {
            throw Failure(path: nil, errno: error)
        }
    }

    private static func watch(
        _ paths: [String],
        _ descriptors: [CInt],
        _ isRegularFile: [Bool],
        follow: Bool,
        count: Int?,
        stop: () -> Bool,
        ready: () -> Void,
        line: (String) -> Void,
        bytes: ([UInt8]) -> Void
    ) throws(Errno) -> Int {
        let queue = try KQueue()
        defer { queue.close() }
        var changes: [KEvent] = []
        for (index, fd) in descriptors.enumerated() {
            changes.append(
                KEvent(ident: UInt(fd), filter: .vnode, flags: [.add, .clear], fflags: Self.changes, udata: UInt(index)))
            if follow && isRegularFile[index] {
                lseek(fd, 0, SEEK_END)
                changes.append(KEvent(ident: UInt(fd), filter: .read, flags: .add, udata: UInt(index)))
            }
        }
        try queue.kevent(changes: changes)
        ready()

        var events = [KEvent](repeating: KEvent(), count: max(changes.count, 1))
        var printed = 0
        var lastFollowed: Int?
        var buffer = [UInt8](repeating: 0, count: 65536)
        while !stop() {
            let n: Int
            do {
                n = try queue.kevent(changes: [], events: &events, timeout: nil)
            } catch .interrupted {
                continue  // `stop` decides whether a signal ends the watch.
            }
            for event in events[..<n] {
                let index = Int(event.udata)
                let fd = descriptors[index]
                if event.filter == .vnode {
                    line("\(paths[index]): " + describe(event.fflags).joined(separator: ", "))
                } else {
                    if event.data < 0 {
                        line("\(paths[index]): truncated")
                        lseek(fd, 0, SEEK_SET)
                    }
                    if paths.count > 1 && lastFollowed != index {
                        line("==> \(paths[index]) <==")
                        lastFollowed = index
                    }
                    // To the end of the file: the knote is level-triggered, so nothing is left behind.
                    while case let got = buffer.withUnsafeMutableBytes({ read(fd, $0.baseAddress, $0.count) }), got > 0 {
                        bytes(Array(buffer[..<got]))
                    }
                }
                printed += 1
                if let count, printed >= count { return printed }
            }
        }
        return printed
    }
}
