#if os(Linux) && !KQUEUE_LIBKQUEUE
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import Synchronization

/// Counts the fork(2)s of the process, so a queue can tell cheaply that it may be in a child.
///
/// `pthread_atfork` bumps the count in every child. A queue compares the count with the one
/// it last saw: equal means no fork happened since, with one atomic load instead of a
/// getpid(2) system call on every kevent. A changed count is confirmed with getpid(2), since a
/// child created with clone(CLONE_VM) shares the parent's memory, count included.
enum ForkEpoch {
    private static let count = Atomic<UInt64>(0)

    private static let installed: Bool = {
        let result = pthread_atfork(nil, nil, { ForkEpoch.count.add(1, ordering: .relaxed) })
        precondition(result == 0, "pthread_atfork failed with error \(result)")
        return true
    }()

    /// The current count; the first call installs the fork handler.
    static var current: UInt64 {
        _ = installed
        return count.load(ordering: .relaxed)
    }
}
#endif
