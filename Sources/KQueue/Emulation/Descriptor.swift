#if os(Linux) && !KQUEUE_LIBKQUEUE
internal import CKQueueShims
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import SystemPackage

/// Read-only probes of a descriptor the caller registered: what it is and what it holds (see
/// Syscalls.swift for the conventions).
enum Descriptor {
    /// What identifies a regular file or directory: its device and inode.
    struct Identity: Equatable {
        var device: UInt64
        var inode: UInt64
    }

    /// The file a descriptor names, and its type (the `S_IFMT` bits of `st_mode`).
    static func identity(_ fd: CInt) throws(Errno) -> (identity: Identity, type: UInt32) {
        let status = try status(fd)
        return (status.identity, status.type)
    }

    /// What fstat(2) says of a watched file, as far as EVFILT_VNODE tells changes apart by it.
    struct Status: Equatable {
        var identity: Identity
        /// The `S_IFMT` bits of `st_mode`.
        var type: UInt32
        /// The permission bits of `st_mode`.
        var mode: UInt32
        var owner: UInt32
        var group: UInt32
        var linkCount: UInt64
        var size: Int64
        /// `st_mtim` and `st_ctim`, in nanoseconds.
        var modified: Int64
        var changed: Int64

        var isDirectory: Bool { type == UInt32(Glibc.S_IFDIR) }
    }

    /// fstat(2) of a descriptor.
    static func status(_ fd: CInt) throws(Errno) -> Status {
        var info = stat()
        _ = try retryingInterrupts { fstat(fd, &info) }
        return Status(
            identity: Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino)),
            type: UInt32(info.st_mode) & UInt32(Glibc.S_IFMT),
            mode: UInt32(info.st_mode) & ~UInt32(Glibc.S_IFMT),
            owner: UInt32(info.st_uid),
            group: UInt32(info.st_gid),
            linkCount: UInt64(info.st_nlink),
            size: Int64(info.st_size),
            modified: Int64(info.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(info.st_mtim.tv_nsec),
            changed: Int64(info.st_ctim.tv_sec) &* 1_000_000_000 &+ Int64(info.st_ctim.tv_nsec)
        )
    }

    /// Whether `fd` is an anonymous pipe (its file system is pipefs); a named FIFO is not.
    static func isAnonymousPipe(_ fd: CInt) throws(Errno) -> Bool {
        var info = statfs()
        _ = try retryingInterrupts { fstatfs(fd, &info) }
        return Int(info.f_type) == ckq_PIPEFS_MAGIC
    }

    /// poll(2) with a zero timeout: the descriptor's ready events now (POLLNVAL for a number
    /// that is not open).
    static func readiness(_ fd: CInt) throws(Errno) -> UInt32 {
        var entry = pollfd(fd: fd, events: Int16(POLLIN | POLLOUT) | ckq_POLLRDHUP, revents: 0)
        let count = try retryingInterrupts { poll(&entry, 1, 0) }
        return count == 1 ? UInt32(UInt16(bitPattern: entry.revents)) : 0
    }

    /// An `int` result of ioctl(2) (FIONREAD, SIOCOUTQ).
    static func ioctlValue(_ fd: CInt, _ request: UInt) throws(Errno) -> Int {
        var value: CInt = 0
        _ = try retryingInterrupts { ckq_ioctl_int(fd, request, &value) }
        return Int(value)
    }

    /// An `int` socket option at SOL_SOCKET.
    static func socketOption(_ fd: CInt, _ option: CInt) throws(Errno) -> Int {
        var value: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        _ = try retryingInterrupts { getsockopt(fd, SOL_SOCKET, option, &value, &length) }
        return Int(value)
    }

    /// The number of connections waiting to be accepted on a listening TCP socket
    /// (`tcpi_unacked` of TCP_INFO); other sockets fail (EOPNOTSUPP).
    static func acceptQueueLength(_ fd: CInt) throws(Errno) -> Int {
        var info = tcp_info()
        var length = socklen_t(MemoryLayout<tcp_info>.size)
        _ = try retryingInterrupts { getsockopt(fd, CInt(IPPROTO_TCP), TCP_INFO, &info, &length) }
        return Int(info.tcpi_unacked)
    }

    /// The capacity of a pipe (F_GETPIPE_SZ).
    static func pipeCapacity(_ fd: CInt) throws(Errno) -> Int {
        Int(try retryingInterrupts { ckq_fcntl(fd, ckq_F_GETPIPE_SZ) })
    }

    /// The size of a regular file minus the descriptor's offset (negative past the end, as on
    /// the BSDs).
    static func bytesAfterOffset(_ fd: CInt) throws(Errno) -> Int {
        var info = stat()
        _ = try retryingInterrupts { fstat(fd, &info) }
        let offset = lseek(fd, 0, SEEK_CUR)
        if offset == -1 { throw Errno(rawValue: errno) }
        return Int(info.st_size) - Int(offset)
    }
}
#endif
