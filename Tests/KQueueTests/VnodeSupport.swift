#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KQueue
import Testing

// Files and directories for the EVFILT_VNODE suites.

extension KEvent.FilterFlags {
    /// Every change EVFILT_VNODE reports.
    static let everyVnodeChange: KEvent.FilterFlags = [.delete, .write, .extend, .attrib, .link, .rename, .revoke]
}

/// A vnode change for descriptor `fd`: by default EV_ADD | EV_CLEAR, watching for every change.
func vnodeEvent(
    _ fd: CInt,
    _ flags: KEvent.Flags = [.add, .clear],
    fflags: KEvent.FilterFlags = .everyVnodeChange,
    udata: UInt = 0
) -> KEvent {
    KEvent(ident: UInt(fd), filter: .vnode, flags: flags, fflags: fflags, udata: udata)
}

/// A fresh directory under /tmp, removed with everything in it when the value goes away.
final class ScratchDirectory {
    let path: String

    init(_ name: String) throws {
        path = temporaryPath(name)
        try #require(mkdir(path, 0o700) == 0)
    }

    deinit {
        Self.remove(path)
    }

    /// The path of `name` in the directory.
    func callAsFunction(_ name: String) -> String {
        path + "/" + name
    }

    /// Creates (or opens) the file `name`, read-write, and returns its descriptor.
    func create(_ name: String, bytes: Int = 0) throws -> CInt {
        let fd = open(self(name), O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        try #require(fd >= 0, "open \(self(name)): errno \(errno)")
        if bytes > 0 { writeBytes(fd, bytes) }
        return fd
    }

    /// Opens `name` (a directory, or anything) read-only; "" is the directory itself.
    func openReadOnly(_ name: String = "") throws -> CInt {
        let fd = open(name.isEmpty ? path : self(name), O_RDONLY | O_CLOEXEC)
        try #require(fd >= 0, "open \(self(name)): errno \(errno)")
        return fd
    }

    /// Removes a file or a directory tree.
    static func remove(_ path: String) {
        if unlink(path) == 0 || errno == ENOENT { return }
        if let directory = opendir(path) {
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) {
                    String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
                }
                if name != "." && name != ".." { remove(path + "/" + name) }
            }
            closedir(directory)
        }
        rmdir(path)
    }
}

/// The vnode events a queue has now, as (ident, fflags) pairs sorted by ident.
func vnodeChanges(_ queue: KQueue) throws -> [UInt: KEvent.FilterFlags] {
    var changes: [UInt: KEvent.FilterFlags] = [:]
    for event in try poll(queue, capacity: 64) where event.filter == .vnode {
        #expect(changes[event.ident] == nil, "one event per knote")
        changes[event.ident] = event.fflags
        #expect(event.data == 0)
    }
    return changes
}

/// The fflags of the one vnode event the queue has now for `fd`, or nil when there is none.
func vnodeChange(_ queue: KQueue, _ fd: CInt, sourceLocation: SourceLocation = #_sourceLocation) throws
    -> KEvent.FilterFlags?
{
    let changes = try vnodeChanges(queue)
    #expect(changes.keys.allSatisfy { $0 == UInt(fd) }, "events for other knotes: \(changes)", sourceLocation: sourceLocation)
    return changes[UInt(fd)]
}

#if os(Linux)
/// The queue's inotify descriptor: the one in its epoll set that is an inotify instance.
func inotifyDescriptor(of queue: KQueue) -> CInt? {
    epollTargets(queue.descriptor)?.first { target in
        var link = [UInt8](repeating: 0, count: 64)
        let length = readlink("/proc/self/fd/\(target)", &link, link.count - 1)
        return length > 0 && String(decoding: link[..<length], as: UTF8.self) == "anon_inode:inotify"
    }
}

/// The number of watches of an inotify descriptor (the "inotify wd:" lines of its fdinfo).
func inotifyWatches(_ fd: CInt) -> Int? {
    fdinfoLines(fd, starting: "inotify wd:")
}
#endif
