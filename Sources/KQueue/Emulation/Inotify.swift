#if os(Linux) && !KQUEUE_LIBKQUEUE
internal import CKQueueShims
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import SystemPackage

/// The queue's inotify descriptor, one per queue, created with the first knote that watches a
/// file (see Syscalls.swift for the conventions).
enum Inotify {
    /// One event as read from the descriptor; the name of a directory entry is not kept, only
    /// whether there was one.
    struct Event {
        var watch: CInt
        var mask: UInt32
        /// The event is about an entry of a watched directory, not the watched file itself.
        var hasName: Bool
    }

    static func create() throws(Errno) -> CInt {
        try retryingInterrupts { inotify_init1(ckq_IN_CLOEXEC | ckq_IN_NONBLOCK) }
    }

    /// Watches the file that `fd` names, whatever its paths are now: the path given to
    /// inotify_add_watch(2) is `/proc/self/fd/N`, a link that resolves to the open file itself
    /// (also after a rename, or an unlink while it is open). inotify keys a watch by inode, so a
    /// second watch of the same inode returns the first one's descriptor (and takes `mask`).
    ///
    /// - Returns: the watch descriptor.
    /// - Throws: the call's errno: ENOENT without /proc, EACCES for a file the process may not
    ///   read, ENOSPC beyond `fs.inotify.max_user_watches`.
    static func addWatch(_ inotify: CInt, for fd: CInt, mask: UInt32) throws(Errno) -> CInt {
        let path = "/proc/self/fd/\(fd)"
        return try retryingInterrupts { inotify_add_watch(inotify, path, mask) }
    }

    /// Removes a watch. EINVAL means the kernel removed it already (the file was deleted, or its
    /// file system unmounted, and the IN_IGNORED that says so is not read yet): nothing to do.
    static func removeWatch(_ inotify: CInt, _ watch: CInt) {
        do throws(Errno) {
            _ = try retryingInterrupts { inotify_rm_watch(inotify, watch) }
        } catch .invalidArgument {
        } catch {
            preconditionFailure("inotify_rm_watch(\(inotify), \(watch)) failed: \(error)")
        }
    }

    /// How many bytes one read takes: room for 256 events without a name, or 60 with the longest.
    private static let bufferSize = 16_384

    /// Reads the pending events, calling `body` with each, until none is left.
    static func drain(_ fd: CInt, _ body: (Event) -> Void) {
        withUnsafeTemporaryAllocation(byteCount: bufferSize, alignment: 8) { buffer in
            while true {
                let count: Int
                do throws(Errno) {
                    count = Int(try retryingInterrupts { CInt(read(fd, buffer.baseAddress, buffer.count)) })
                } catch .wouldBlock {
                    return
                } catch {
                    preconditionFailure("inotify read failed: \(error)")
                }
                // struct inotify_event: wd, mask, cookie, len, then len bytes of name.
                var offset = 0
                while offset + 16 <= count {
                    let watch = buffer.loadUnaligned(fromByteOffset: offset, as: Int32.self)
                    let mask = buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                    let length = Int(buffer.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                    body(Event(watch: watch, mask: mask, hasName: length > 0))
                    offset += 16 + length
                }
                precondition(offset == count, "inotify read of \(count) bytes ends inside an event")
            }
        }
    }
}
#endif
