import ArgumentParser
import KQueue
import Synchronization
import TestSupport
import Testing
import kqtimer

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `kqtimer watch`: its arguments, and its output while files change.
@Suite("Watch", .blocking)
struct WatchTests {
    @Test("watch takes one or more paths, --follow and --count")
    func arguments() throws {
        let watch = try Watch.parse(["a", "b", "--follow", "--count", "3"])
        #expect(watch.paths == ["a", "b"] && watch.follow && watch.count == 3)
        #expect(try !Watch.parse(["a"]).follow)
        #expect(try KQTimer.parseAsRoot(["watch", "a"]) is Watch)
        for arguments in [[], ["a", "--count", "0"], ["a", "--count", "1000000001"]] {
            #expect(throws: (any Error).self) { try Watch.parse(arguments) }
        }
        let message = Watch.message(for: #expect(throws: (any Error).self) { try Watch.parse([]) }!)
        #expect(message.contains("Name at least one file or directory"), "\(message)")
    }

    @Test("changes are named in a fixed order")
    func names() {
        #expect(Watch.describe([.delete, .write, .extend]) == ["written", "extended", "deleted"])
        #expect(Watch.describe([.attrib, .link, .rename, .revoke]) == ["attributes", "link count", "renamed", "revoked"])
    }

    @Test("a path that cannot be opened is an error naming it, before anything is watched")
    func missingPath() {
        let error = #expect(throws: Watch.Failure.self) {
            try Watch.run(paths: ["/nonexistent/kqtimer-watch"], follow: false, count: 1, line: { _ in }, bytes: { _ in })
        }
        #expect(error?.description.hasPrefix("cannot open /nonexistent/kqtimer-watch: ") == true)
    }

    @Test("watch --follow prints each change of a file and a directory as it happens, and the bytes appended")
    func follow() throws {
        let directory = "/tmp/kqtimer-watch-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try #require(mkdir(directory, 0o700) == 0)
        let file = directory + "/log"
        let fd = open(file, O_RDWR | O_CREAT, 0o600)
        try #require(fd >= 0)
        defer {
            close(fd)
            unlink(directory + "/renamed")
            rmdir(directory + "/sub")
            rmdir(directory)
        }
        writeText(fd, "before the watch\n")  // not printed: --follow starts at the end

        let output = Output()
        let isReady = Atomic<Bool>(false)
        let events = Atomic<Int>(-1)
        let paths = [file, directory]
        let thread = ServerThread {
            let count = try? Watch.run(paths: paths, follow: true, count: 12, ready: { isReady.store(true, ordering: .releasing) }) {
                output.append($0 + "\n")
            } bytes: {
                output.append(String(decoding: $0, as: UTF8.self))
            }
            events.store(count ?? -1, ordering: .releasing)
        }
        try #require(Self.wait { isReady.load(ordering: .acquiring) })

        // Each step waits for its output, so that no two steps share an event.
        let steps: [(action: () -> Void, expected: [String])] = [
            ({ writeText(fd, "hello\n") }, ["\(file): written, extended\n", "==> \(file) <==\nhello\n"]),
            ({ _ = fchmod(fd, 0o640) }, ["\(file): attributes\n"]),
            ({ _ = mkdir(directory + "/sub", 0o700) }, ["\(directory): written, link count\n"]),
            ({ _ = ftruncate(fd, 0) }, ["\(file): written, attributes\n", "\(file): truncated\n"]),
            ({ writeText(fd, "again\n") }, ["\(file): written, extended\n", "again\n"]),
            ({ _ = rename(file, directory + "/renamed") }, ["\(file): renamed\n", "\(directory): written\n"]),
            ({ _ = unlink(directory + "/renamed") }, ["\(file): link count, deleted\n", "\(directory): written\n"]),
        ]
        for (action, expected) in steps {
            let start = output.text.count
            action()
            let arrived = Self.wait {
                let new = String(output.text.dropFirst(start))
                return expected.allSatisfy { new.contains($0) }
            }
            #expect(arrived, "expected \(expected) after:\n\(output.text.dropFirst(start))")
        }
        // A slow machine can merge two changes into one event; the watch stops only after 12,
        // so changes of the directory's attributes make up for any merged ones (up to 30 s).
        for _ in 0..<3_000 where events.load(ordering: .acquiring) < 0 {
            _ = chmod(directory, 0o700)
            usleep(10_000)
        }
        thread.join()
        #expect(events.load(ordering: .acquiring) == 12)
        #expect(!output.text.contains("before the watch"))
    }

    /// Waits up to 30 s for `condition`; true if it came.
    static func wait(_ condition: () -> Bool) -> Bool {
        for _ in 0..<30_000 {
            if condition() { return true }
            usleep(1000)
        }
        return condition()
    }
}

/// What the watch printed, collected from its thread.
private final class Output: Sendable {
    private let storage = Mutex("")

    var text: String { storage.withLock { $0 } }

    func append(_ text: String) {
        storage.withLock { $0 += text }
    }
}

private func writeText(_ fd: CInt, _ text: String) {
    _ = text.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, $0.count - 1) }
}
