#if os(Linux) && !KQUEUE_LIBKQUEUE
internal import CKQueueShims
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif

/// One descriptor watched by a queue: the EVFILT_READ and EVFILT_WRITE knotes of that
/// descriptor number share one epoll registration, whose event mask is the union of theirs.
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
    /// The epoll events the registration asks for.
    var events: UInt32 = 0
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

    /// The epoll events the knotes need: edge-triggered, so that each change of readiness is
    /// reported once and the filter decides, by looking at the descriptor, whether the
    /// condition holds.
    var wantedEvents: UInt32 {
        var events = ckq_EPOLLET
        if read >= 0 { events |= UInt32(ckq_EPOLLIN | ckq_EPOLLRDHUP) }
        if write >= 0 { events |= UInt32(ckq_EPOLLOUT) }
        return events
    }
}
#endif
