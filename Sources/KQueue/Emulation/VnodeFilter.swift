#if os(Linux) && !KQUEUE_LIBKQUEUE
internal import CKQueueShims
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import SystemPackage

/// EVFILT_VNODE: a file or directory watched through the queue's one inotify descriptor.
///
/// Darwin profile (XNU's `filt_vnode`, FreeBSD's `filt_vfsvnode`):
/// - `ident` is an open descriptor of a regular file, a directory, a symbolic link, a device or
///   a named FIFO; a pipe, a socket or any other kind of descriptor is EINVAL, a number that is
///   not open EBADF. The watch follows the file, not a path: it holds across a rename, and
///   across an unlink while the file is open.
/// - `fflags` names the changes to record. Each change the knote asks for is recorded, ORed into
///   the `fflags` it returns, and the knote fires while something is recorded; a change it does
///   not ask for is not recorded. `data` is 0. With EV_CLEAR a retrieval empties the record;
///   without it the record stays, so the knote is returned by every call (as on macOS, where
///   EVFILT_VNODE is used with EV_CLEAR). Every change to the knote (EV_ADD, EV_ENABLE,
///   EV_DISABLE) replaces the `fflags` it asks for and keeps what is recorded. Changes while
///   the knote is disabled are recorded and returned at EV_ENABLE.
/// - What inotify reports, and what the filter makes of it, with fstat(2) of the descriptor
///   against the status the watch saw last (``VnodeFilter/changes(_:rescan:from:to:)``):
///   - IN_MODIFY: NOTE_WRITE; NOTE_EXTEND if the size grew; NOTE_ATTRIB if it shrank (a
///     truncation, which macOS reports as NOTE_ATTRIB).
///   - IN_ATTRIB: NOTE_LINK when the link count changed, NOTE_ATTRIB when anything else did.
///   - NOTE_DELETE when the link count reaches 0 (the last name is gone, the file is still open)
///     or on IN_DELETE_SELF; NOTE_RENAME on IN_MOVE_SELF; NOTE_REVOKE on IN_UNMOUNT, which also
///     sets EV_EOF and EV_ONESHOT and fires whatever the knote asks for (XNU).
///   - A directory: NOTE_WRITE when an entry is added, removed or renamed (IN_CREATE,
///     IN_DELETE, IN_MOVED_FROM, IN_MOVED_TO); NOTE_LINK when a subdirectory is created or
///     removed (IN_ISDIR), or the link count changed. Other events of its entries are ignored.
///   - IN_Q_OVERFLOW (inotify dropped events): every watched file is looked at again, and what
///     its status says changed is reported (see ``changes(_:rescan:from:to:)``).
/// - A descriptor that is closed without EV_DELETE keeps its knote (Linux does not tell), and
///   the knote is never returned for another file: every change and every delivery first checks
///   that the number still names the file (device and inode) it was registered for, and a
///   knote whose descriptor was closed, or names another file now, is removed without being
///   returned. The same check runs before an event is recorded.
///
/// The knotes of one inode share one watch (inotify returns the same watch descriptor for it),
/// together with the EVFILT_READ knote of a regular file, which the same events wake
/// (``DescriptorFilter``); the last knote out removes the watch.
enum VnodeFilter: EmulatedFilter {
    /// The inotify events a regular file (or a device, FIFO or link) is watched for.
    static let fileEvents = ckq_IN_MODIFY | ckq_IN_ATTRIB | ckq_IN_MOVE_SELF | ckq_IN_DELETE_SELF
    /// The events a directory is watched for: itself, and its entries coming and going.
    static let directoryEvents =
        ckq_IN_ATTRIB | ckq_IN_MOVE_SELF | ckq_IN_DELETE_SELF | entryEvents
    /// The events of a directory's entry that change the directory.
    static let entryEvents = ckq_IN_CREATE | ckq_IN_DELETE | ckq_IN_MOVED_FROM | ckq_IN_MOVED_TO

    /// Runs before every change to a vnode knote: refuses the queue's own descriptors, and
    /// forgets a knote whose descriptor was closed, or names another file now.
    ///
    /// - Returns: EBADF for a number that is not an open descriptor, or is one of the queue's.
    static func validate(_ change: KEvent, in queue: inout QueueState) -> Errno? {
        guard let fd = CInt(exactly: change.ident) else { return .badFileDescriptor }
        if queue.owns(fd) { return .badFileDescriptor }
        if let knote = queue.knotes.find(ident: change.ident, filter: .vnode), !namesRegisteredFile(knote, in: queue) {
            forget(knote, in: &queue)
        }
        do throws(Errno) {
            _ = try Descriptor.identity(fd)
            return nil
        } catch {
            return .badFileDescriptor
        }
    }

    static func attach(_ knote: Int32, _ change: KEvent, to queue: inout QueueState) -> Errno? {
        let fd = CInt(change.ident)
        let status: Descriptor.Status
        do throws(Errno) {
            status = try Descriptor.status(fd)
        } catch {
            return .badFileDescriptor
        }
        guard isFileSystemObject(fd, status) else { return .invalidArgument }
        queue.knotes[knote].sfflags = change.fflags.rawValue
        if let error = watch(knote, fd, in: &queue) { return error }
        queue.files.identities[knote] = status.identity
        return nil
    }

    static func touch(_ knote: Int32, _ change: KEvent, in queue: inout QueueState) -> Errno? {
        // What happened before the change is recorded under the `fflags` asked for until now,
        // as the kernel records a change when it happens.
        ready(in: &queue)
        queue.knotes[knote].sfflags = change.fflags.rawValue
        return nil
    }

    static func update(_ knote: Int32, in queue: inout QueueState) {}

    static func detach(_ knote: Int32, from queue: inout QueueState) {
        unwatch(knote, in: &queue)
        queue.files.identities[knote] = nil
    }

    static func deliver(_ knote: Int32, from queue: inout QueueState) -> KEvent? {
        guard namesRegisteredFile(knote, in: queue) else {
            forget(knote, in: &queue)
            return nil
        }
        let stored = queue.knotes[knote]
        guard stored.isActive else { return nil }
        if stored.flags.contains(.clear) {
            queue.knotes[knote].isActive = false
            queue.knotes[knote].eventFFlags = 0
        }
        return KEvent(
            ident: stored.ident,
            filter: .vnode,
            flags: stored.flags,
            fflags: KEvent.FilterFlags(rawValue: stored.eventFFlags),
            data: 0,
            udata: stored.udata
        )
    }

    /// Records what happened to the knote's file, as far as the knote asks for it, and
    /// activates the knote when something is recorded.
    static func record(_ knote: Int32, _ changes: KEvent.FilterFlags, in queue: inout QueueState) {
        let requested = KEvent.FilterFlags(rawValue: queue.knotes[knote].sfflags)
        if changes.contains(.revoke) {
            // The file is gone for good: the knote fires once more, whatever it asks for.
            queue.knotes[knote].flags.formUnion([.eof, .oneshot])
            queue.knotes[knote].isActive = true
        }
        let recorded = changes.intersection(requested)
        if !recorded.isEmpty {
            queue.knotes[knote].eventFFlags |= recorded.rawValue
            queue.knotes[knote].isActive = true
        }
        if queue.knotes[knote].isActive { queue.activate(knote) }
    }

    /// What changed in a watched file, from the inotify events of one read (ORed together) and
    /// the file's status before and after them.
    ///
    /// - Parameters:
    ///   - events: the events' masks ORed; IN_ISDIR only when a subdirectory was created or
    ///     removed (``ready(in:)`` drops it from the other events).
    ///   - rescan: events were lost (IN_Q_OVERFLOW): the status alone says what changed. A
    ///     change of the mode, owner or change time is NOTE_ATTRIB, of the size or modification
    ///     time NOTE_WRITE, of the link count NOTE_LINK; a rename cannot be seen.
    static func changes(
        _ events: UInt32,
        rescan: Bool,
        from before: Descriptor.Status,
        to after: Descriptor.Status
    ) -> KEvent.FilterFlags {
        var changes: KEvent.FilterFlags = []
        let linkCountChanged = after.linkCount != before.linkCount
        if linkCountChanged {
            changes.insert(.link)
            if after.linkCount == 0 { changes.insert(.delete) }
        }
        if events & ckq_IN_DELETE_SELF != 0 { changes.insert(.delete) }
        if events & ckq_IN_MOVE_SELF != 0 { changes.insert(.rename) }
        if events & ckq_IN_UNMOUNT != 0 { changes.insert(.revoke) }
        // An IN_ATTRIB that a link or an unlink explains is NOTE_LINK alone.
        let attributesChanged = after.mode != before.mode || after.owner != before.owner || after.group != before.group
        if events & ckq_IN_ATTRIB != 0 && (!linkCountChanged || attributesChanged) { changes.insert(.attrib) }
        if before.isDirectory {
            if events & entryEvents != 0 { changes.insert(.write) }
            if events & ckq_IN_ISDIR != 0 { changes.insert(.link) }
        } else {
            if events & ckq_IN_MODIFY != 0 { changes.insert(.write) }
            if after.size > before.size { changes.insert(.extend) }
            if after.size < before.size { changes.insert(.attrib) }  // truncated
        }
        if rescan {
            if after.modified != before.modified || after.size != before.size { changes.insert(.write) }
            if after.changed != before.changed || attributesChanged { changes.insert(.attrib) }
        }
        return changes
    }

    // MARK: Identity

    /// Whether the knote's descriptor still names the file it was registered for.
    private static func namesRegisteredFile(_ knote: Int32, in queue: QueueState) -> Bool {
        guard let identity = queue.files.identities[knote] else { return false }
        return (try? Descriptor.identity(CInt(queue.knotes[knote].ident)))?.identity == identity
    }

    /// Removes a knote whose descriptor was closed, or names another file now, without
    /// reporting it.
    static func forget(_ knote: Int32, in queue: inout QueueState) {
        detach(knote, from: &queue)
        queue.knotes.remove(knote)
    }

    /// Removes the vnode knote of descriptor `fd`, if there is one: the queue has just opened a
    /// descriptor of its own under that number (``QueueState/adopt(_:)``), so the user's was closed.
    static func forget(descriptor fd: CInt, in queue: inout QueueState) {
        if let knote = queue.knotes.find(ident: UInt(fd), filter: .vnode) { forget(knote, in: &queue) }
    }

    /// Whether kqueue can watch what `fd` names: macOS accepts any vnode, so a FIFO with a name
    /// but not a pipe; a socket is not a vnode.
    private static func isFileSystemObject(_ fd: CInt, _ status: Descriptor.Status) -> Bool {
        switch status.type {
        case UInt32(Glibc.S_IFREG), UInt32(Glibc.S_IFDIR), UInt32(Glibc.S_IFLNK), UInt32(Glibc.S_IFCHR),
            UInt32(Glibc.S_IFBLK):
            return true
        case UInt32(Glibc.S_IFIFO):
            return (try? Descriptor.isAnonymousPipe(fd)) == false
        default:
            return false
        }
    }
}
#endif
