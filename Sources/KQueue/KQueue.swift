import SystemPackage

/// A kernel event queue: kqueue(2) as a Swift type, with the same semantics on every platform.
///
/// On macOS and the BSDs it is the system's kqueue; on Linux it is an emulation over epoll,
/// timerfd, eventfd, signalfd, pidfd and inotify that follows macOS's behaviour (the README
/// lists every deviation).
///
/// ```swift
/// let queue = try KQueue()
/// var events = [KEvent](repeating: KEvent(), count: 8)
/// _ = try queue.kevent(changes: [KEvent(ident: 1, filter: .timer, flags: [.add, .enable], data: 1000)],
///                      events: &events, timeout: nil)
/// ```
///
/// A queue may be used from several threads at once. Its descriptor is closed by ``close()``
/// or when the queue is deinitialized.
public final class KQueue: Sendable {
    #if os(Linux) && !KQUEUE_LIBKQUEUE
    typealias Backend = EmulatedQueue
    #else
    typealias Backend = NativeQueue
    #endif

    private let backend: Backend

    /// Creates a queue. The corresponding C function is `kqueue()`.
    ///
    /// - Throws: `Errno` if the descriptors cannot be created (e.g. `.tooManyOpenFiles`).
    public init() throws(Errno) {
        backend = try Backend()
    }

    /// A queue whose emulation waits in whole milliseconds (poll(2)) instead of nanoseconds
    /// (ppoll(2)), so that tests reach the rounding of a millisecond wait.
    /// With `false`, and on every other platform, the same as ``init()``.
    package init(_waitingInWholeMilliseconds: Bool) throws(Errno) {
        #if os(Linux) && !KQUEUE_LIBKQUEUE
        backend = try Backend(waitsInWholeMilliseconds: _waitingInWholeMilliseconds)
        #else
        backend = try Backend()
        #endif
    }

    /// The Linux emulation's process-wide signal dispatcher, for tests: how many queues watch
    /// a signal through it, and whether its signalfd is open. nil where signals are not
    /// emulated.
    package static var _signalDispatcherStatus: (queues: Int, isOpen: Bool)? {
        #if os(Linux) && !KQUEUE_LIBKQUEUE
        let status = SignalDispatcher.current.status
        return (status.watchers, status.descriptor >= 0)
        #else
        return nil
        #endif
    }

    /// The queue's file descriptor, or -1 once the queue is closed.
    ///
    /// It is readable (in poll(2), epoll or another queue) while an event is pending, so the
    /// queue can be watched by another event loop. It belongs to the queue: do not close it.
    public var descriptor: CInt {
        backend.descriptor
    }

    /// Applies `changes` in order, then returns pending events. The corresponding C function
    /// is `kevent()`.
    ///
    /// - Parameters:
    ///   - changes: the changes to apply, in order.
    ///   - events: the buffer to fill; its `count` is the capacity (`nevents`). Entries past
    ///     the returned count are left as they were.
    ///   - timeout: how long to wait for an event: nil waits until one arrives, `.zero` polls.
    /// - Returns: the number of entries written to `events`. When a change fails, or has
    ///   ``KEvent/Flags/receipt``, an entry with ``KEvent/Flags/error`` and the errno in
    ///   `data` (0 for a receipt) is written for it, and the call returns without collecting
    ///   events or waiting. With an empty `events` buffer the call applies the changes and
    ///   returns 0 at once.
    /// - Throws: `.invalidArgument` for a negative timeout or one over `Int32.max` seconds
    ///   (no change is applied); the errno of a failed change when `events` has no room
    ///   left for its entry (the changes before it stay applied); `.interrupted` when a signal
    ///   ends the wait (all changes were applied); `.badFileDescriptor` once the queue is closed.
    public func kevent(changes: [KEvent], events: inout [KEvent], timeout: Duration?) throws(Errno) -> Int {
        let nanoseconds = try timeout.map { (timeout) throws(Errno) -> Int64 in try Self.nanoseconds(timeout) }
        return try backend.kevent(changes: changes, events: &events, timeout: nanoseconds)
    }

    /// Applies `changes` in order without collecting events.
    ///
    /// - Throws: the errno of the first change that fails (the changes before it stay
    ///   applied, the ones after it are not), or `.badFileDescriptor` once the queue is closed.
    public func kevent(changes: [KEvent]) throws(Errno) {
        var none: [KEvent] = []
        _ = try backend.kevent(changes: changes, events: &none, timeout: 0)
    }

    /// Closes the queue's descriptor and deletes every registered event. A thread blocked in
    /// ``kevent(changes:events:timeout:)`` returns `.badFileDescriptor`. Closing twice does nothing.
    public func close() {
        backend.close()
    }

    /// A timeout in nanoseconds, rounded up, validated as macOS does.
    ///
    /// A zero timeout (a poll, and every call that only applies changes) skips
    /// `Duration.components`, whose 128-bit division costs more than the rest of the
    /// conversion.
    static func nanoseconds(_ timeout: Duration) throws(Errno) -> Int64 {
        if timeout == .zero { return 0 }
        let (seconds, attoseconds) = timeout.components
        guard seconds >= 0, attoseconds >= 0, seconds <= Int64(Int32.max) else { throw .invalidArgument }
        let fraction = (attoseconds + 999_999_999) / 1_000_000_000
        return seconds * 1_000_000_000 + fraction
    }
}
