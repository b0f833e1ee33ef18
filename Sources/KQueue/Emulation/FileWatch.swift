#if os(Linux) && !KQUEUE_LIBKQUEUE

/// One inotify watch of a queue: one inode, and every knote of the queue that watches it.
///
/// inotify keys a watch by inode, so the EVFILT_VNODE knotes of several descriptors of one file,
/// and the EVFILT_READ knote of a regular file, share it (the kernel returns the same watch
/// descriptor for them).
struct FileWatch {
    /// The EVFILT_VNODE and EVFILT_READ knotes that watch the file, in the order they came.
    var knotes: [Int32]
    /// The file as the watch last saw it, through a knote's descriptor: its identity (device
    /// and inode), and what a change is measured against (the size for NOTE_EXTEND, the link
    /// count for NOTE_LINK and NOTE_DELETE).
    var status: Descriptor.Status
}

/// What a queue keeps for the files it watches: its inotify descriptor and its watches.
struct FileWatches {
    /// The inotify descriptor, -1 until a knote first watches a file.
    var descriptor: CInt = -1
    /// The watches, by watch descriptor.
    var watches: [CInt: FileWatch] = [:]
    /// EVFILT_VNODE: the file each knote was registered for (by knote). A knote whose
    /// descriptor names another file now is never returned (``VnodeFilter``).
    var identities: [Int32: Descriptor.Identity] = [:]
}
#endif
