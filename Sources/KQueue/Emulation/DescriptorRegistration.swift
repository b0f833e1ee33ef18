#if os(Linux) && !KQUEUE_LIBKQUEUE
internal import CKQueueShims
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// One descriptor watched by a queue: its EVFILT_READ and EVFILT_WRITE knotes, each direction
/// with an epoll registration of its own (the read one in the queue's epoll set, the write one
/// in the set nested in it, ``QueueState/writeEpoll``; see ``DescriptorFilter``).
struct DescriptorRegistration {
    /// The device and inode of the file the descriptor named when the registration was made.
    /// They tell a regular file or directory from another file; a descriptor in the epoll set
    /// is recognized by its epoll registration instead (``DescriptorFilter/namesRegisteredFile(_:_:in:)``).
    var identity: Descriptor.Identity
    /// The file type bits of `st_mode`.
    var type: UInt32
    /// Distinguishes this registration's epoll events from those of an earlier registration of
    /// the same descriptor number (see ``EpollToken``).
    var generation: UInt32
    /// Whether the descriptor is in the epoll set. Regular files and directories are not
    /// (epoll refuses them): their readiness is decided in software, and a regular file's read
    /// knote is woken through the queue's inotify descriptor (``VnodeFilter``).
    var isPolled = true
    /// The epoll events of the read direction's registration in the queue's epoll set, 0 for none.
    var readEvents: UInt32 = 0
    /// The epoll events of the write direction's registration in the queue's write set, 0 for none.
    var writeEvents: UInt32 = 0
    /// The EVFILT_READ knote, or -1.
    var read: Int32 = -1
    /// The EVFILT_WRITE knote, or -1.
    var write: Int32 = -1

    var isSocket: Bool { type == UInt32(Glibc.S_IFSOCK) }
    var isPipe: Bool { type == UInt32(Glibc.S_IFIFO) }
    var isRegularFile: Bool { type == UInt32(Glibc.S_IFREG) }
    var isEmpty: Bool { read < 0 && write < 0 }

    /// The knote of `filter` (read or write).
    subscript(filter: KEvent.Filter) -> Int32 {
        get { filter == .read ? read : write }
        set {
            if filter == .read { read = newValue } else { write = newValue }
        }
    }

    /// The epoll events the read knote needs (0 without one): edge-triggered, so that each
    /// change is reported once and the filter decides, by looking at the descriptor, whether the
    /// condition holds.
    var wantedReadEvents: UInt32 {
        read >= 0 ? ckq_EPOLLET | UInt32(ckq_EPOLLIN | ckq_EPOLLRDHUP) : 0
    }

    /// The epoll events the write knote needs (0 without one), edge-triggered.
    var wantedWriteEvents: UInt32 {
        write >= 0 ? ckq_EPOLLET | UInt32(ckq_EPOLLOUT) : 0
    }

    /// The epoll events of `filter`'s direction (read or write), 0 for none.
    func events(_ filter: KEvent.Filter) -> UInt32 {
        filter == .read ? readEvents : writeEvents
    }

    /// Whether `filter`'s direction keeps its epoll registration with no knote, for the next
    /// one (``DescriptorFilter/retire(_:from:)``).
    func isParked(_ filter: KEvent.Filter) -> Bool {
        self[filter] < 0 && events(filter) != 0
    }

    /// Whether the descriptor has a registration in either set (the one that tells whether the
    /// number still names the registered file).
    var isRegistered: Bool { readEvents != 0 || writeEvents != 0 }
}
#endif
