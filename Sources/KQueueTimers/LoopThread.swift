import KQueue
import SystemPackage
import Synchronization

#if os(Linux)
internal import CKQueueShims
#endif

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The thread a ``KQueueLoop`` runs on.
final class LoopThread: Sendable {
    private let handle = Locked<pthread_t?>(nil)
    /// ``currentThreadID()`` of the running thread, 0 before it starts.
    private let id = Atomic<UInt>(0)

    init() {}

    /// Starts the thread, which runs `body`; called once.
    ///
    /// - Throws: `Errno` if the system cannot create a thread.
    func start(_ body: @escaping @Sendable () -> Void) throws(Errno) {
        final class Start: Sendable {
            let body: @Sendable () -> Void
            let thread: LoopThread
            init(body: @escaping @Sendable () -> Void, thread: LoopThread) {
                self.body = body
                self.thread = thread
            }
        }
        let start = Unmanaged.passRetained(Start(body: body, thread: self)).toOpaque()
        #if canImport(Glibc)
        var thread = pthread_t()
        #else
        var thread: pthread_t?
        #endif
        let result = pthread_create(
            &thread,
            nil,
            { argument in
                let start = Unmanaged<Start>.fromOpaque(argument!).takeRetainedValue()
                nameCurrentThread("KQueueLoop")
                start.thread.id.store(currentThreadID(), ordering: .releasing)
                start.body()
                return nil
            },
            start
        )
        guard result == 0 else {
            Unmanaged<AnyObject>.fromOpaque(start).release()
            throw Errno(rawValue: result)
        }
        #if canImport(Glibc)
        handle.withLock { $0 = thread }
        #else
        handle.withLock { $0 = thread! }
        #endif
    }

    /// Whether the caller runs on this thread.
    var isCurrent: Bool {
        id.load(ordering: .acquiring) == currentThreadID()
    }

    /// Waits for the thread to end; only the first call waits. Called on the thread itself,
    /// it detaches the thread instead, which then ends on its own.
    func join() {
        guard let thread = handle.withLock({ state -> pthread_t? in
            defer { state = nil }
            return state
        }) else { return }
        if isCurrent {
            pthread_detach(thread)
        } else {
            pthread_join(thread, nil)
        }
    }
}

/// Names the calling thread, as debuggers, `top -H` and crash reports show it (at most 15
/// bytes on Linux).
private func nameCurrentThread(_ name: String) {
    #if os(Linux)
    _ = ckq_name_current_thread(name)
    #elseif canImport(Darwin)
    _ = pthread_setname_np(name)
    #endif
}

/// An identifier of the calling thread, cheap to read.
@inline(__always)
func currentThreadID() -> UInt {
    #if canImport(Glibc)
    return UInt(pthread_self())
    #else
    return UInt(bitPattern: pthread_self())
    #endif
}
