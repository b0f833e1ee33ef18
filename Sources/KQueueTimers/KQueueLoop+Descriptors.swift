import KQueue
import SystemPackage

/// What kqueue reports when a descriptor becomes ready: ``KQueueLoop/readable(_:)`` and
/// ``KQueueLoop/writable(_:)`` return it.
public struct Readiness: Sendable, Hashable {
    /// For reading: the bytes that can be read (for a listening socket, the connections
    /// waiting to be accepted; for a regular file, the bytes from the offset to the end). For
    /// writing: the space in the send buffer or the pipe. kqueue's `data`.
    public var count: Int
    /// The read side is shut down, or the last writer of a pipe is gone (for reading); the
    /// reader of a pipe is gone or the socket is shut down (for writing). kqueue's EV_EOF.
    /// Bytes may still be readable: `count` says how many.
    public var isEndOfFile: Bool
    /// With ``isEndOfFile``: the socket's pending error, if it has one (a connection reset is
    /// `ECONNRESET`). kqueue's `fflags` with EV_EOF.
    public var error: Errno?

    public init(count: Int, isEndOfFile: Bool = false, error: Errno? = nil) {
        self.count = count
        self.isEndOfFile = isEndOfFile
        self.error = error
    }

    init(_ event: KEvent) {
        let isEndOfFile = event.flags.contains(.eof)
        let code = CInt(truncatingIfNeeded: event.fflags.rawValue)
        self.init(count: event.data, isEndOfFile: isEndOfFile, error: isEndOfFile && code != 0 ? Errno(rawValue: code) : nil)
    }
}

/// Waiting for descriptors: the loop's queue watches them for the tasks that wait.
///
/// Each wait adds a one-shot EVFILT_READ or EVFILT_WRITE knote to the loop's queue; the change
/// goes to the kernel with the loop's next `kevent` call (no system call of its own), and the
/// event resumes the task. A task on the loop (`Task(executorPreference: loop)`, or an actor
/// whose executor is the loop) waits and resumes without leaving the loop's thread; any other
/// task may wait too, and resumes on its own executor.
extension KQueueLoop {
    /// Suspends the calling task until `descriptor` is readable: data is waiting, a
    /// connection is waiting to be accepted, or end-of-file.
    ///
    /// A read and a write wait on one descriptor are independent; several tasks waiting to
    /// read one descriptor share one knote and all resume with the same event.
    ///
    /// ```swift
    /// let readiness = try await loop.readable(socket)
    /// if readiness.count == 0 && readiness.isEndOfFile { close(socket) }
    /// ```
    ///
    /// - Returns: what kqueue reports: the bytes readable, and end-of-file with its error.
    /// - Throws: `CancellationError` if the task is cancelled while it waits (the knote is
    ///   removed) or the loop shuts down; `Errno` if the descriptor is not open (EBADF) or
    ///   cannot be watched.
    public func readable(_ descriptor: CInt) async throws -> Readiness {
        try await wait(for: descriptor, .read)
    }

    /// Suspends the calling task until `descriptor` is writable: there is space in its buffer,
    /// or the other end is gone (end-of-file).
    ///
    /// - Returns: what kqueue reports: the space writable, and end-of-file with its error.
    /// - Throws: `CancellationError` if the task is cancelled while it waits (the knote is
    ///   removed) or the loop shuts down; `Errno` if the descriptor is not open (EBADF) or
    ///   cannot be watched.
    public func writable(_ descriptor: CInt) async throws -> Readiness {
        try await wait(for: descriptor, .write)
    }

    private func wait(for descriptor: CInt, _ filter: KEvent.Filter) async throws -> Readiness {
        guard descriptor >= 0 else { throw Errno.badFileDescriptor }
        try Task.checkCancellation()
        let event = try await core.awaitEvent(KEvent(ident: UInt(descriptor), filter: filter))
        return Readiness(event)
    }

    /// The number of knotes the loop holds for tasks waiting on descriptors and processes
    /// (signals not included), asked of the loop; for tests and diagnostics.
    package var eventRegistrationCount: Int {
        get async {
            await withCheckedContinuation { continuation in
                if !execute({ continuation.resume(returning: self.core.state.pointee.events.count) }) {
                    continuation.resume(returning: 0)
                }
            }
        }
    }
}
