#if os(Linux) && !KQUEUE_LIBKQUEUE
internal import CKQueueShims
import SystemPackage

/// The watches behind EVFILT_VNODE and a regular file's EVFILT_READ: one inotify descriptor per
/// queue, in its epoll set, created with the first knote that watches a file; one watch per
/// inode, shared by every knote of the queue that watches it (``FileWatch``).
extension VnodeFilter {
    /// Adds the knote to the watch of the file its descriptor names, creating the queue's
    /// inotify descriptor and the watch when they do not exist yet. The knote's
    /// ``Knote/source`` is the watch descriptor.
    ///
    /// - Returns: the error of inotify_init1(2) or inotify_add_watch(2) (EMFILE beyond
    ///   `fs.inotify.max_user_instances`, ENOSPC beyond `max_user_watches`, EACCES for a file
    ///   the process may not read, ENOENT without /proc); EBADF when the descriptor was closed
    ///   meanwhile.
    static func watch(_ knote: Int32, _ fd: CInt, in queue: inout QueueState) -> Errno? {
        if queue.files.descriptor < 0 {
            if let error = openInotify(in: &queue) { return error }
        } else if !queue.files.watches.isEmpty {
            // What is pending happened before this knote existed: it belongs to the others.
            ready(in: &queue)
        }
        let before: Descriptor.Status
        let watch: CInt
        do throws(Errno) {
            before = try Descriptor.status(fd)
            let events = before.isDirectory ? directoryEvents : fileEvents
            watch = try Inotify.addWatch(queue.files.descriptor, for: fd, mask: events)
        } catch {
            return error
        }
        // The path named whatever the number named when the kernel resolved it: if another
        // thread has closed the descriptor and opened another file under its number since the
        // fstat, the watch may be of that file.
        guard (try? Descriptor.identity(fd))?.identity == before.identity else {
            if queue.files.watches[watch] == nil { Inotify.removeWatch(queue.files.descriptor, watch) }
            return .badFileDescriptor
        }
        if queue.files.watches[watch]?.status.identity == before.identity {
            queue.files.watches[watch]!.knotes.append(knote)
        } else {
            // A new watch. (A stale entry under the same number would be one the kernel dropped
            // and whose IN_IGNORED is not read yet; watch descriptors are handed out cyclically,
            // so that takes 2^31 watches in between.)
            orphan(watch, in: &queue)
            queue.files.watches[watch] = FileWatch(knotes: [knote], status: before)
        }
        queue.knotes[knote].source = watch
        return nil
    }

    /// Takes the knote out of its watch; the last one out removes the watch.
    static func unwatch(_ knote: Int32, in queue: inout QueueState) {
        let watch = queue.knotes[knote].source
        guard watch >= 0 else { return }
        queue.knotes[knote].source = -1
        guard queue.files.watches[watch] != nil else { return }
        queue.files.watches[watch]!.knotes.removeAll { $0 == knote }
        if queue.files.watches[watch]!.knotes.isEmpty {
            queue.files.watches[watch] = nil
            Inotify.removeWatch(queue.files.descriptor, watch)
        }
    }

    /// Reads every pending inotify event and applies them, one watch at a time, to the knotes
    /// of the watch.
    ///
    /// The events of one read are ORed per watch first (a burst of writes costs one fstat(2)
    /// per knote, not one per write). An event about an entry of a watched directory counts only
    /// when the entry came or went. IN_Q_OVERFLOW means inotify dropped events: then every
    /// watch is looked at again (``changes(_:rescan:from:to:)``).
    static func ready(in queue: inout QueueState) {
        guard queue.files.descriptor >= 0 else { return }
        var masks: [CInt: UInt32] = [:]
        var order: [CInt] = []
        var overflowed = false
        Inotify.drain(queue.files.descriptor) { event in
            if event.mask & ckq_IN_Q_OVERFLOW != 0 {
                overflowed = true
                return
            }
            var mask = event.mask & ~ckq_IN_ISDIR
            if event.hasName {
                mask &= entryEvents
                guard mask != 0 else { return }
                // IN_ISDIR stays only to say that a subdirectory was created or removed.
                if event.mask & (ckq_IN_CREATE | ckq_IN_DELETE) != 0 { mask |= event.mask & ckq_IN_ISDIR }
            }
            if let earlier = masks[event.watch] {
                masks[event.watch] = earlier | mask
            } else {
                masks[event.watch] = mask
                order.append(event.watch)
            }
        }
        if overflowed {
            for watch in Array(queue.files.watches.keys) {
                process(watch, events: masks[watch] ?? 0, rescan: true, in: &queue)
            }
        } else {
            for watch in order {
                process(watch, events: masks[watch]!, rescan: false, in: &queue)
            }
        }
    }

    /// Applies the events of one watch: drops the knotes whose descriptors no longer name the
    /// file, derives the changes from the events and the file's status, and records them in the
    /// vnode knotes and re-evaluates the read knotes.
    private static func process(_ watch: CInt, events: UInt32, rescan: Bool, in queue: inout QueueState) {
        guard let stored = queue.files.watches[watch] else { return }  // removed by the queue
        var current: Descriptor.Status?
        var gone: [Int32] = []
        for knote in stored.knotes {
            if let status = try? Descriptor.status(CInt(queue.knotes[knote].ident)), status.identity == stored.status.identity {
                if current == nil { current = status }
            } else {
                gone.append(knote)
            }
        }
        for knote in gone { drop(knote, in: &queue) }
        guard let current, let remaining = queue.files.watches[watch]?.knotes else { return }
        let changes = changes(events, rescan: rescan, from: stored.status, to: current)
        queue.files.watches[watch]!.status = current
        if events & ckq_IN_IGNORED != 0 {
            // The kernel removed the watch (the file was deleted, or its file system unmounted).
            orphan(watch, in: &queue)
        }
        for knote in remaining {
            if queue.knotes[knote].filter == .vnode {
                record(knote, changes, in: &queue)
            } else {
                DescriptorFilter.fileChanged(knote, in: &queue)
            }
        }
    }

    /// Removes a knote of a watch whose descriptor was closed, or names another file now.
    private static func drop(_ knote: Int32, in queue: inout QueueState) {
        if queue.knotes[knote].filter == .vnode {
            forget(knote, in: &queue)
        } else {
            DescriptorFilter.forget(CInt(queue.knotes[knote].ident), in: &queue)
        }
    }

    /// Forgets a watch the kernel no longer has; its knotes stay, watching nothing.
    private static func orphan(_ watch: CInt, in queue: inout QueueState) {
        guard let stored = queue.files.watches.removeValue(forKey: watch) else { return }
        for knote in stored.knotes { queue.knotes[knote].source = -1 }
    }

    /// Creates the queue's inotify descriptor, in its epoll set.
    private static func openInotify(in queue: inout QueueState) -> Errno? {
        let fd: CInt
        do throws(Errno) {
            fd = try Inotify.create()
        } catch {
            return error
        }
        queue.adopt(fd)
        do throws(Errno) {
            try Epoll.add(queue.epoll, fd, events: UInt32(ckq_EPOLLIN))
        } catch {
            closeDescriptor(fd)
            return error
        }
        queue.files.descriptor = fd
        return nil
    }
}
#endif
