import KQueue
import SystemPackage

/// How a process ended: ``KQueueLoop/processExit(_:)`` returns it.
public struct ProcessExit: Sendable, Hashable {
    /// The wait(2) status, as kqueue reports it with NOTE_EXITSTATUS (0 for a process that is
    /// not a child of this one on Linux, where the kernel does not tell).
    public var status: CInt

    public init(status: CInt) {
        self.status = status
    }

    /// The exit code, if the process exited (`exit(3)`'s argument, 0 to 255).
    public var code: CInt? {
        status & 0x7F == 0 ? (status >> 8) & 0xFF : nil
    }

    /// The signal that ended the process, if one did.
    public var signal: CInt? {
        let signal = status & 0x7F
        return signal != 0 && signal != 0x7F ? signal : nil
    }
}

extension KQueueLoop {
    /// Suspends the calling task until the process `pid` exits (EVFILT_PROC with NOTE_EXIT
    /// and NOTE_EXITSTATUS on the loop's queue).
    ///
    /// The process is not reaped: a child's status stays for waitpid(2). On Linux a child that
    /// has already exited (a zombie) is reported at once; on macOS it is ESRCH.
    ///
    /// - Returns: how the process ended.
    /// - Throws: `Errno.noSuchProcess` if there is no such process; `CancellationError` if
    ///   the task is cancelled (the knote is removed) or the loop shuts down.
    public func processExit(_ pid: CInt) async throws -> ProcessExit {
        guard pid > 0 else { throw Errno.noSuchProcess }
        try Task.checkCancellation()
        let event = try await core.awaitEvent(
            KEvent(ident: UInt(pid), filter: .proc, fflags: [.exit, .exitStatus]))
        return ProcessExit(status: CInt(truncatingIfNeeded: event.data))
    }
}
