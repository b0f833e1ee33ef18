#if canImport(Glibc)
import CKQueueShims
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KQueue
import SystemPackage
import TestSupport
import Testing

/// EVFILT_VNODE (KQUEUE.md §7.5; kqueue(2): "EVFILT_VNODE … returns when one or more of the
/// requested events occurs on the descriptor"; XNU's filt_vnode, FreeBSD's filt_vfsvnode).
///
/// Every knote here has EV_CLEAR unless a test says otherwise, and asks for every change, so the
/// expected `fflags` are exactly what the operation reports.
@Suite("EVFILT_VNODE", .blocking)
struct VnodeFilterTests {
    // MARK: Files

    @Test("a write that appends is NOTE_WRITE | NOTE_EXTEND; one that overwrites is NOTE_WRITE alone")
    func write() throws {
        let dir = try ScratchDirectory("write")
        let fd = try dir.create("f")
        defer { close(fd) }
        let q = try KQueue()
        try q.kevent(changes: [vnodeEvent(fd, udata: 9)])
        #expect(try poll(q).isEmpty)
        writeBytes(fd, 16)
        let events = try poll(q)
        #expect(events.count == 1)
        #expect(events.first?.filter == .vnode && events.first?.ident == UInt(fd) && events.first?.udata == 9)
        #expect(events.first?.fflags == [.write, .extend])
        #expect(events.first?.flags == [.add, .clear])
        #expect(try poll(q).isEmpty)
        try #require(pwrite(fd, "ABCD", 4, 0) == 4)
        #expect(try vnodeChange(q, fd) == .write)
        // Another process's append, through the path.
        let other = open(dir("f"), O_WRONLY | O_APPEND)
        try #require(other >= 0)
        writeBytes(other, 1)
        close(other)
        #expect(try vnodeChange(q, fd) == [.write, .extend])
    }

    @Test("a truncation is NOTE_WRITE | NOTE_ATTRIB (macOS: NOTE_ATTRIB); growing by ftruncate is NOTE_WRITE | NOTE_EXTEND")
    func truncate() throws {
        let dir = try ScratchDirectory("truncate")
        let fd = try dir.create("f", bytes: 100)
        defer { close(fd) }
        let q = try KQueue()
        try q.kevent(changes: [vnodeEvent(fd)])
        try #require(ftruncate(fd, 10) == 0)
        #expect(try vnodeChange(q, fd) == [.write, .attrib])
        try #require(ftruncate(fd, 4096) == 0)
        #expect(try vnodeChange(q, fd) == [.write, .extend])
    }

    @Test("NOTE_EXTEND alone reports growth only")
    func extendOnly() throws {
        let dir = try ScratchDirectory("extend")
        let fd = try dir.create("f", bytes: 10)
        defer { close(fd) }
        let q = try KQueue()
        try q.kevent(changes: [vnodeEvent(fd, fflags: .extend)])
        try #require(pwrite(fd, "x", 1, 0) == 1)  // not a growth
        try #require(fchmod(fd, 0o644) == 0)
        #expect(try poll(q).isEmpty)
        try #require(pwrite(fd, "x", 1, 10) == 1)
        #expect(try vnodeChange(q, fd) == .extend)
    }

    @Test("chmod, chown (to the same owner) and utimes are NOTE_ATTRIB")
    func attrib() throws {
        let dir = try ScratchDirectory("attrib")
        let fd = try dir.create("f")
        defer { close(fd) }
        let q = try KQueue()
        try q.kevent(changes: [vnodeEvent(fd)])
        try #require(fchmod(fd, 0o640) == 0)
        #expect(try vnodeChange(q, fd) == .attrib)
        try #require(fchown(fd, getuid(), getgid()) == 0)
        #expect(try vnodeChange(q, fd) == .attrib)
        var times = [timespec(tv_sec: 1_000_000, tv_nsec: 0), timespec(tv_sec: 2_000_000, tv_nsec: 0)]
        try #require(futimens(fd, &times) == 0)
        #expect(try vnodeChange(q, fd) == .attrib)
    }

    @Test("link and unlink of another name are NOTE_LINK; the last unlink while open is NOTE_DELETE | NOTE_LINK")
    func linkAndUnlink() throws {
        let dir = try ScratchDirectory("link")
        let fd = try dir.create("f")
        defer { close(fd) }
        let q = try KQueue()
        try q.kevent(changes: [vnodeEvent(fd)])
        try #require(link(dir("f"), dir("g")) == 0)
        #expect(try vnodeChange(q, fd) == .link)
        try #require(unlink(dir("g")) == 0)
        #expect(try vnodeChange(q, fd) == .link)
        try #require(unlink(dir("f")) == 0)
        #expect(try vnodeChange(q, fd) == [.delete, .link])
        #expect(try poll(q).isEmpty)
    }

    @Test("a file deleted while open is NOTE_DELETE, and the watch follows it: its writes are still reported")
    func deleteWhileOpen() throws {
        let dir = try ScratchDirectory("delete")
        let fd = try dir.create("f")
        defer { close(fd) }
        let q = try KQueue()
        try q.kevent(changes: [vnodeEvent(fd, fflags: [.write, .delete])])
        try #require(unlink(dir("f")) == 0)
        #expect(try vnodeChange(q, fd) == .delete)
        writeBytes(fd, 3)
        #expect(try vnodeChange(q, fd) == .write)
    }

    @Test("a rename within a directory and across directories is NOTE_RENAME, and the watch follows the file")
    func rename() throws {
        let dir = try ScratchDirectory("rename")
        try #require(mkdir(dir("other"), 0o700) == 0)
        let fd = try dir.create("f")
        defer { close(fd) }
        let q = try KQueue()
        try q.kevent(changes: [vnodeEvent(fd)])
        try #require(Glibc.rename(dir("f"), dir("g")) == 0)
        #expect(try vnodeChange(q, fd) == .rename)
        try #require(Glibc.rename(dir("g"), dir("other/h")) == 0)
        #expect(try vnodeChange(q, fd) == .rename)
        writeBytes(fd, 1)
        #expect(try vnodeChange(q, fd) == [.write, .extend])
        // Writes through the new path reach the same watch.
        let other = open(dir("other/h"), O_WRONLY | O_APPEND)
        try #require(other >= 0)
        writeBytes(other, 1)
        close(other)
        #expect(try vnodeChange(q, fd) == [.write, .extend])
    }

    @Test("a rename over a watched file is NOTE_DELETE for it, NOTE_RENAME for the one renamed")
    func renameOver() throws {
        let dir = try ScratchDirectory("over")
        let source = try dir.create("source")
        let target = try dir.create("target")
        defer { close(source); close(target) }
        let q = try KQueue()
        try q.kevent(changes: [vnodeEvent(source), vnodeEvent(target)])
        try #require(Glibc.rename(dir("source"), dir("target")) == 0)
        let changes = try vnodeChanges(q)
        #expect(changes == [UInt(source): .rename, UInt(target): [.delete, .link]])
    }

    @Test("a change the knote does not ask for is not recorded")
    func unrequested() throws {
        let dir = try ScratchDirectory("unrequested")
        let fd = try dir.create("f")
        defer { close(fd) }
        let q = try KQueue()
        try q.kevent(changes: [vnodeEvent(fd, fflags: [.attrib, .rename])])
        writeBytes(fd, 5)
        try #require(link(dir("f"), dir("g")) == 0)
        #expect(try poll(q).isEmpty)
        try #require(fchmod(fd, 0o604) == 0)
        #expect(try vnodeChange(q, fd) == .attrib)
    }

    @Test("several changes before one retrieval come ORed in one event")
    func oredChanges() throws {
        let dir = try ScratchDirectory("ored")
        let fd = try dir.create("f")
        defer { close(fd) }
        let q = try KQueue()
        try q.kevent(changes: [vnodeEvent(fd, udata: 1)])
        try #require(fchmod(fd, 0o640) == 0)
        writeBytes(fd, 10)
        try #require(link(dir("f"), dir("g")) == 0)
        try #require(Glibc.rename(dir("g"), dir("h")) == 0)  // another name: not this file's rename
        try #require(Glibc.rename(dir("f"), dir("i")) == 0)
        let events = try poll(q)
        #expect(events.count == 1)
        #expect(events.first?.fflags == [.attrib, .write, .extend, .link, .rename])
        #expect(try poll(q).isEmpty)
    }

    // MARK: Directories

    @Test("a directory: NOTE_WRITE when an entry comes, goes or is renamed; NOTE_LINK for a subdirectory too")
    func directory() throws {
        let dir = try ScratchDirectory("dir")
        try #require(mkdir(dir("watched"), 0o700) == 0)
        try #require(mkdir(dir("outside"), 0o700) == 0)
        let fd = try dir.openReadOnly("watched")
        defer { close(fd) }
        let q = try KQueue()
        try q.kevent(changes: [vnodeEvent(fd)])

        let file = try dir.create("watched/file")
        #expect(try vnodeChange(q, fd) == .write)
        // What happens inside an entry is not the directory's change.
        writeBytes(file, 10)
        try #require(fchmod(file, 0o640) == 0)
        close(file)
        #expect(try poll(q).isEmpty)
        try #require(Glibc.rename(dir("watched/file"), dir("watched/renamed")) == 0)
        #expect(try vnodeChange(q, fd) == .write)
        try #require(Glibc.rename(dir("watched/renamed"), dir("outside/file")) == 0)
        #expect(try vnodeChange(q, fd) == .write)
        try #require(Glibc.rename(dir("outside/file"), dir("watched/back")) == 0)
        #expect(try vnodeChange(q, fd) == .write)
        try #require(unlink(dir("watched/back")) == 0)
        #expect(try vnodeChange(q, fd) == .write)

        try #require(mkdir(dir("watched/sub"), 0o700) == 0)
        #expect(try vnodeChange(q, fd) == [.write, .link])
        try #require(Glibc.rename(dir("watched/sub"), dir("watched/sub2")) == 0)
        #expect(try vnodeChange(q, fd) == .write)  // the link count is the same
        try #require(Glibc.rename(dir("watched/sub2"), dir("outside/sub")) == 0)
        #expect(try vnodeChange(q, fd) == [.write, .link])
        try #require(Glibc.rename(dir("outside/sub"), dir("watched/sub")) == 0)
        #expect(try vnodeChange(q, fd) == [.write, .link])
        try #require(rmdir(dir("watched/sub")) == 0)
        #expect(try vnodeChange(q, fd) == [.write, .link])

        try #require(fchmod(fd, 0o750) == 0)
        #expect(try vnodeChange(q, fd) == .attrib)
        try #require(Glibc.rename(dir("watched"), dir("moved")) == 0)
        #expect(try vnodeChange(q, fd) == .rename)
        #expect(try poll(q).isEmpty)
    }

    // MARK: The knote's life cycle

    @Test("without EV_CLEAR the record stays: the knote is returned by every call; with EV_CLEAR once per change")
    func clear() throws {
        let dir = try ScratchDirectory("clear")
        let fd = try dir.create("f")
        let other = try dir.create("g")
        defer { close(fd); close(other) }
        let q = try KQueue()
        try q.kevent(changes: [vnodeEvent(fd, .add, udata: 1), vnodeEvent(other, [.add, .clear], udata: 2)])
        try #require(fchmod(fd, 0o640) == 0)
        try #require(fchmod(other, 0o640) == 0)
        #expect(try vnodeChanges(q) == [UInt(fd): .attrib, UInt(other): .attrib])
        #expect(try vnodeChanges(q) == [UInt(fd): .attrib])
        #expect(try vnodeChanges(q) == [UInt(fd): .attrib])
        writeBytes(fd, 1)
        writeBytes(other, 1)
        #expect(try vnodeChanges(q) == [UInt(fd): [.attrib, .write, .extend], UInt(other): [.write, .extend]])
        #expect(try vnodeChanges(q) == [UInt(fd): [.attrib, .write, .extend]])
    }

    @Test("EV_ONESHOT: the first change is returned and the knote is gone")
    func oneshot() throws {
        let dir = try ScratchDirectory("oneshot")
        let fd = try dir.create("f")
        defer { close(fd) }
        let q = try KQueue()
        try q.kevent(changes: [vnodeEvent(fd, [.add, .oneshot])])
        writeBytes(fd, 1)
        let events = try poll(q)
        #expect(events.map(\.fflags) == [[.write, .extend]])
        #expect(events.first?.flags == [.add, .oneshot])
        writeBytes(fd, 1)
        #expect(try poll(q).isEmpty)
        #expect(try outcome(q, vnodeEvent(fd, .delete)) == .noSuchFileOrDirectory)
    }

    @Test("EV_DISPATCH disables the knote once returned; what happens meanwhile is returned at EV_ENABLE")
    func dispatch() throws {
        let dir = try ScratchDirectory("dispatch")
        let fd = try dir.create("f")
        defer { close(fd) }
        let q = try KQueue()
        try q.kevent(changes: [vnodeEvent(fd, [.add, .clear, .dispatch])])
        try #require(fchmod(fd, 0o640) == 0)
        #expect(try vnodeChange(q, fd) == .attrib)
        writeBytes(fd, 2)
        #expect(try poll(q).isEmpty)
        try q.kevent(changes: [vnodeEvent(fd, .enable)])
        #expect(try vnodeChange(q, fd) == [.write, .extend])
        #expect(try poll(q).isEmpty)
    }

    @Test("EV_DISABLE drops a pending event and holds later ones; EV_ENABLE returns them")
    func disableAndEnable() throws {
        let dir = try ScratchDirectory("disable")
        let fd = try dir.create("f")
        defer { close(fd) }
        let q = try KQueue()
        try q.kevent(changes: [vnodeEvent(fd)])
        try #require(fchmod(fd, 0o640) == 0)
        try q.kevent(changes: [vnodeEvent(fd, .disable)])
        #expect(try poll(q).isEmpty)
        writeBytes(fd, 1)
        #expect(try poll(q).isEmpty)
        try q.kevent(changes: [vnodeEvent(fd, .enable)])
        #expect(try vnodeChange(q, fd) == [.attrib, .write, .extend])
        #expect(try poll(q).isEmpty)
        // Added disabled: the same.
        let other = try dir.create("g")
        defer { close(other) }
        try q.kevent(changes: [vnodeEvent(other, [.add, .clear, .disable])])
        writeBytes(other, 1)
        #expect(try poll(q).isEmpty)
        try q.kevent(changes: [vnodeEvent(other, .enable)])
        #expect(try vnodeChange(q, other) == [.write, .extend])
    }

    @Test("EV_ADD of an existing knote replaces the changes it asks for and its udata, and keeps what is recorded")
    func modify() throws {
        let dir = try ScratchDirectory("modify")
        let fd = try dir.create("f")
        defer { close(fd) }
        let q = try KQueue()
        try q.kevent(changes: [vnodeEvent(fd, fflags: .attrib, udata: 1)])
        try q.kevent(changes: [vnodeEvent(fd, fflags: .delete, udata: 2)])
        try #require(fchmod(fd, 0o640) == 0)
        #expect(try poll(q).isEmpty)  // no longer asked for
        try q.kevent(changes: [vnodeEvent(fd, fflags: .write, udata: 3)])
        writeBytes(fd, 1)
        try q.kevent(changes: [vnodeEvent(fd, fflags: .attrib, udata: 4)])
        let events = try poll(q)
        #expect(events.map(\.fflags) == [.write])  // recorded before the change
        #expect(events.map(\.udata) == [4])
        #expect(try poll(q).isEmpty)
        #expect(try outcome(q, vnodeEvent(fd, .delete)) == nil)
        #expect(try outcome(q, vnodeEvent(fd, .delete)) == .noSuchFileOrDirectory)
    }

    @Test("two queues watching one file both see each change; two descriptors of it in one queue both fire")
    func sharedFile() throws {
        let dir = try ScratchDirectory("shared")
        let fd = try dir.create("f")
        let second = open(dir("f"), O_RDONLY)
        try #require(second >= 0)
        defer { close(fd); close(second) }
        let q1 = try KQueue()
        let q2 = try KQueue()
        try q1.kevent(changes: [vnodeEvent(fd), vnodeEvent(second)])
        try q2.kevent(changes: [vnodeEvent(fd, fflags: .attrib)])
        try #require(fchmod(fd, 0o640) == 0)
        #expect(try vnodeChanges(q1) == [UInt(fd): .attrib, UInt(second): .attrib])
        #expect(try vnodeChange(q2, fd) == .attrib)
        #if os(Linux)
        // One watch for the inode, in each queue.
        let inotify = try #require(inotifyDescriptor(of: q1))
        #expect(inotifyWatches(inotify) == 1)
        try q1.kevent(changes: [vnodeEvent(fd, .delete)])
        #expect(inotifyWatches(inotify) == 1)
        try q1.kevent(changes: [vnodeEvent(second, .delete)])
        #expect(inotifyWatches(inotify) == 0)
        #endif
    }

    // MARK: Descriptors

    @Test("a descriptor closed and its number given to another file never reports the old file's changes")
    func closedAndReused() throws {
        let dir = try ScratchDirectory("reused")
        let fd = try dir.create("old")
        let replacement = try dir.create("new")
        let q = try KQueue()
        try q.kevent(changes: [vnodeEvent(fd, udata: 1)])
        try #require(fchmod(fd, 0o640) == 0)  // pending when the descriptor is closed
        try #require(dup2(replacement, fd) == fd)
        close(replacement)
        defer { close(fd) }
        #expect(try poll(q).isEmpty)
        // Changes of the old file (through its path) and of the new one reach no knote.
        try #require(chmod(dir("old"), 0o600) == 0)
        writeBytes(fd, 1)
        #expect(try poll(q).isEmpty)
        #expect(try outcome(q, vnodeEvent(fd, .delete)) == .noSuchFileOrDirectory)
        // An EV_ADD on the number is a knote of the new file.
        try q.kevent(changes: [vnodeEvent(fd, udata: 2)])
        try #require(chmod(dir("old"), 0o640) == 0)
        #expect(try poll(q).isEmpty)
        writeBytes(fd, 1)
        let events = try poll(q)
        #expect(events.map(\.udata) == [2])
        #expect(events.first?.fflags == [.write, .extend])
    }

    @Test("a descriptor closed without EV_DELETE: its knote is gone, and a change naming it is EBADF")
    func closed() throws {
        let dir = try ScratchDirectory("closed")
        let fd = try dir.create("f")
        let q = try KQueue()
        try q.kevent(changes: [vnodeEvent(fd)])
        try #require(fchmod(fd, 0o640) == 0)
        close(fd)
        #expect(try poll(q).isEmpty)
        try #require(chmod(dir("f"), 0o600) == 0)
        #expect(try poll(q).isEmpty)
        // EBADF; ENOENT if a test running beside this one opened a file under the number since.
        let error = try outcome(q, vnodeEvent(fd, .delete))
        #expect(error == .badFileDescriptor || error == .noSuchFileOrDirectory, "\(String(describing: error))")
    }

    @Test("a pipe, a socket and an eventfd are EINVAL; a number that is not open is EBADF; a named FIFO is watched")
    func kinds() throws {
        let q = try KQueue()
        let (r, w) = try makePipe()
        let (s1, s2) = try makeSocketPair()
        defer { for fd in [r, w, s1, s2] { close(fd) } }
        #expect(try outcome(q, vnodeEvent(r)) == .invalidArgument)
        #expect(try outcome(q, vnodeEvent(s1)) == .invalidArgument)
        #if os(Linux)
        let event = eventfd(0, ckq_EFD_CLOEXEC)
        defer { close(event) }
        #expect(try outcome(q, vnodeEvent(event)) == .invalidArgument)
        #endif
        #expect(try outcome(q, vnodeEvent(CInt(Int32.max))) == .badFileDescriptor)
        #expect(try outcome(q, KEvent(ident: UInt.max, filter: .vnode, flags: .add)) == .badFileDescriptor)

        let dir = try ScratchDirectory("kinds")
        try #require(mkfifo(dir("fifo"), 0o600) == 0)
        let fifo = open(dir("fifo"), O_RDONLY | O_NONBLOCK)
        try #require(fifo >= 0)
        defer { close(fifo) }
        try q.kevent(changes: [vnodeEvent(fifo)])
        try #require(chmod(dir("fifo"), 0o640) == 0)
        #expect(try vnodeChange(q, fifo) == .attrib)
    }

    #if os(Linux)
    @Test("one inotify descriptor per queue, in its epoll set, created with the first watch; a change naming it is EBADF")
    func oneInotifyPerQueue() throws {
        let dir = try ScratchDirectory("inotify")
        let q = try KQueue()
        let before = try #require(epollRegistrations(q.descriptor))
        #expect(inotifyDescriptor(of: q) == nil)
        var files: [CInt] = []
        defer { for fd in files { close(fd) } }
        for i in 0..<5 { files.append(try dir.create("f\(i)")) }
        try q.kevent(changes: files.map { vnodeEvent($0) } + [readEvent(files[0])])
        #expect(epollRegistrations(q.descriptor) == before + 1)
        let inotify = try #require(inotifyDescriptor(of: q))
        #expect(inotifyWatches(inotify) == 5)  // the read knote shares its file's watch
        #expect(try outcome(q, vnodeEvent(inotify)) == .badFileDescriptor)
        #expect(try outcome(q, readEvent(inotify)) == .badFileDescriptor)
        try q.kevent(changes: files.map { vnodeEvent($0, .delete) })
        #expect(inotifyWatches(inotify) == 1)
        try q.kevent(changes: [readEvent(files[0], .delete)])
        #expect(inotifyWatches(inotify) == 0)
        #expect(epollRegistrations(q.descriptor) == before + 1)  // it stays until the queue is closed
    }

    @Test("after inotify drops events (IN_Q_OVERFLOW) every watched file is looked at again and its changes reported")
    func overflow() throws {
        let limit = try #require(Self.maxQueuedEvents())
        let dir = try ScratchDirectory("overflow")
        let busy = try dir.create("busy", bytes: 1)
        let quiet = try dir.create("quiet")
        defer { close(busy); close(quiet) }
        let q = try KQueue()
        try q.kevent(changes: [vnodeEvent(busy), vnodeEvent(quiet)])
        // Alternate events, which inotify cannot merge, until more are queued than it keeps.
        var mode: mode_t = 0o600
        for _ in 0...(limit / 2) {
            try #require(pwrite(busy, "x", 1, 0) == 1)
            mode ^= 0o040
            try #require(fchmod(busy, mode) == 0)
        }
        // The queue is full: these events are dropped, and found again by looking at the file.
        try #require(fchmod(quiet, 0o640) == 0)
        writeBytes(quiet, 3)
        let changes = try vnodeChanges(q)
        #expect(changes[UInt(busy)] == [.write, .attrib])
        #expect(changes[UInt(quiet)] == [.write, .extend, .attrib])
        #expect(try poll(q).isEmpty)
        // Afterwards, events are read as before.
        try #require(fchmod(quiet, 0o600) == 0)
        #expect(try vnodeChange(q, quiet) == .attrib)
    }

    /// `fs.inotify.max_queued_events`: how many events one inotify instance queues.
    static func maxQueuedEvents() -> Int? {
        guard let file = fopen("/proc/sys/fs/inotify/max_queued_events", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 32)
        guard fgets(&line, CInt(line.count), file) != nil else { return nil }
        let bytes = line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return Int(String(decoding: bytes, as: UTF8.self).filter(\.isNumber))
    }
    #endif
}
