#if os(Linux)
import CKQueueShims
@preconcurrency import Glibc
import KQueue
import SystemPackage
import TestSupport
import Testing

/// A descriptor closed without EV_DELETE whose number then names another file of the same
/// kind. Every eventfd, timerfd, epoll and (before Linux 6.9) pidfd shares one anonymous inode,
/// so device and inode cannot tell the old file from the new one; the knote must still be
/// fresh (issue 10, fault 5).
@Suite("Descriptor reuse with anonymous-inode files (Linux)", .blocking)
struct DescriptorReuseTests {
    /// A kind of anonymous-inode file: how to open one, and how to make it readable.
    enum Kind: String, CaseIterable, CustomTestStringConvertible {
        case eventfd, timerfd, epoll, pidfd

        var testDescription: String { rawValue }
    }

    /// Files of one kind, and whatever keeps them alive (a child process, an inner eventfd).
    final class Files {
        let kind: Kind
        var child: pid_t = -1
        var helpers: [CInt] = []

        init(_ kind: Kind) throws {
            self.kind = kind
            if kind == .pidfd { child = try spawnShell("exec sleep 30") }
        }

        deinit {
            for fd in helpers { close(fd) }
            if child > 0 {
                kill(child, SIGKILL)
                reap(child)
            }
        }

        /// Opens a new file of the kind, not readable yet.
        func open() throws -> CInt {
            let fd: CInt
            switch kind {
            case .eventfd:
                fd = eventfd(0, ckq_EFD_CLOEXEC | ckq_EFD_NONBLOCK)
            case .timerfd:
                fd = timerfd_create(CLOCK_MONOTONIC, ckq_TFD_CLOEXEC | ckq_TFD_NONBLOCK)
            case .epoll:
                fd = epoll_create1(ckq_EPOLL_CLOEXEC)
                let inner = eventfd(0, ckq_EFD_CLOEXEC | ckq_EFD_NONBLOCK)
                try #require(fd >= 0 && inner >= 0)
                helpers.append(inner)
                var event = epoll_event()
                event.events = UInt32(ckq_EPOLLIN)
                event.data.fd = inner
                try #require(epoll_ctl(fd, EPOLL_CTL_ADD, inner, &event) == 0)
            case .pidfd:
                fd = ckq_pidfd_open(child, 0)
            }
            try #require(fd >= 0, "opening a \(kind): errno \(errno)")
            return fd
        }

        /// Makes the file `fd` (opened by ``open()``) readable.
        func makeReadable(_ fd: CInt) throws {
            switch kind {
            case .eventfd:
                var one: UInt64 = 1
                try #require(write(fd, &one, 8) == 8)
            case .timerfd:
                var spec = itimerspec()
                spec.it_value = timespec(tv_sec: 0, tv_nsec: 1_000_000)
                try #require(timerfd_settime(fd, 0, &spec, nil) == 0)
            case .epoll:
                var one: UInt64 = 1
                try #require(write(helpers.last!, &one, 8) == 8)
            case .pidfd:
                try #require(kill(child, SIGKILL) == 0)
            }
        }
    }

    @Test(
        "issue 10: a closed descriptor's number given to another file of the same kind gets a fresh knote that fires",
        arguments: Kind.allCases)
    func reusedNumber(kind: Kind) throws {
        let files = try Files(kind)
        let q = try KQueue()
        let old = try files.open()
        try q.kevent(changes: [readEvent(old, udata: 1)])
        // Another file of the same kind under the same number: dup2 closes the old one (without
        // EV_DELETE) and puts the new one in its place at once, so no test running in parallel
        // can take the number in between.
        let new = try files.open()
        try #require(dup2(new, old) == old)
        close(new)
        defer { close(old) }
        #expect(try poll(q).isEmpty)
        try q.kevent(changes: [readEvent(old, [.add, .clear], udata: 2)])
        #expect(try poll(q).isEmpty)
        try files.makeReadable(old)
        let (events, _) = try waitForEvents(q, limit: .seconds(30))
        #expect(events.map(\.udata) == [2], "the new \(kind) became readable; the queue returned \(events)")
        #expect(events.first?.ident == UInt(old))
    }

    @Test("issue 10: a descriptor number that still names its file keeps its knote", arguments: Kind.allCases)
    func sameFileKept(kind: Kind) throws {
        let files = try Files(kind)
        let q = try KQueue()
        let fd = try files.open()
        defer { close(fd) }
        try q.kevent(changes: [readEvent(fd, udata: 1)])
        // A change with neither EV_ADD nor EV_DELETE finds the knote only if it was kept.
        #expect(try outcome(q, readEvent(fd, .enable, udata: 3)) == nil)
        try files.makeReadable(fd)
        let (events, _) = try waitForEvents(q, limit: .seconds(30))
        #expect(events.map(\.udata) == [3], "the \(kind) became readable; the queue returned \(events)")
    }
}
#endif
