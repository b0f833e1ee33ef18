import KQueue
import SystemPackage

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A descriptor registered with a loop until it is closed: the loop keeps its read and write
/// readiness, so a task that reads and writes it makes no system call beyond the reads and
/// writes themselves.
///
/// ``KQueueLoop/readable(_:)`` adds a one-shot knote for each wait, which sees bytes already
/// waiting but costs a re-arming of the registration every time. A `LoopDescriptor` adds one
/// EV_CLEAR knote per direction, once (the write one at the first wait for space), and keeps
/// readiness as tokio's `AsyncFd` does: a direction is ready until an operation shows it is
/// not — it failed with EWOULDBLOCK, or reads took every byte the last event counted — and
/// only then does the task wait, for the next event. No event can slip in between: the
/// operation, the wait and the delivery of events all happen on the loop's thread.
///
/// ```swift
/// let connection = try LoopDescriptor(socket, on: loop)
/// let count = try await connection.read(into: buffer)       // waits only when nothing is left
/// let sent = try await connection.whenWritable { try send(socket, reply) }  // again after EAGAIN
/// connection.close()
/// ```
///
/// - Use it from any task: in a task on its loop (`Task(executorPreference: loop)`) an
///   operation makes no hop; from another task or an actor it moves onto the loop for the
///   operation and back. Once the loop has shut down, every operation throws
///   `CancellationError`.
/// - It owns the descriptor: ``close()`` removes its knotes and closes it. The loop keeps the
///   registration until then, or until it shuts down.
/// - Its knotes are the descriptor's (ident, filter) knotes on the loop's queue: do not also
///   wait on the same descriptor with ``KQueueLoop/readable(_:)`` or
///   ``KQueueLoop/writable(_:)``, nor register it twice.
/// - Several tasks may wait on one direction; an event resumes them all.
public final class LoopDescriptor: @unchecked Sendable {
    // @unchecked: every var is reached only on the loop's thread (the operations move there
    // first), except `isClosed` when the loop has stopped.

    /// The loop the descriptor is registered with.
    public let loop: KQueueLoop
    /// The descriptor.
    public let descriptor: CInt

    /// What the loop knows of one direction.
    private struct Direction {
        /// An operation may succeed: nothing has shown otherwise since the last event.
        var isReady = true
        /// For reading: the bytes the last event counted, less those read since; nil while
        /// unknown (before the first event, and for descriptors whose count is not the whole
        /// buffer: datagram sockets count the next datagram only).
        var known: Int?
        /// End-of-file was reported: the direction stays ready (a read returns 0 or the error).
        var isEndOfFile = false
        /// The direction's knote is added (or its change is on its way to the kernel).
        var isRegistered = false
        /// The kernel refused the knote.
        var failure: Errno?
        /// The task waiting, and any others (an array only when a second task waits).
        var waiter: Waiter?
        var others: [Waiter] = []

        mutating func add(_ waiter: Waiter) {
            if self.waiter == nil { self.waiter = waiter } else { others.append(waiter) }
        }

        /// Takes out the waiter of wait `id`, if it still waits.
        mutating func remove(_ id: UInt64) -> Waiter? {
            if let waiter, waiter.id == id {
                self.waiter = others.popLast()
                return waiter
            }
            guard let index = others.firstIndex(where: { $0.id == id }) else { return nil }
            return others.remove(at: index)
        }

        /// Takes every waiter out, to be resumed with `result`.
        mutating func takeWaiters() -> Waiters {
            defer {
                waiter = nil
                if !others.isEmpty { others = [] }
            }
            return Waiters(first: waiter, others: others)
        }
    }

    /// Waiters taken out of their direction.
    private struct Waiters {
        var first: Waiter?
        var others: [Waiter]

        /// Resumes each of them, once.
        func resume(with result: Result<Void, any Error>) {
            first?.continuation.resume(with: result)
            for waiter in others { waiter.continuation.resume(with: result) }
        }
    }

    /// A suspended task. Only the loop's thread resumes it (an event, a close, the shutdown,
    /// or the job its cancellation sends), so no atomic state is needed: whoever takes it out
    /// of its direction resumes it, once.
    private struct Waiter {
        var id: UInt64
        var continuation: UnsafeContinuation<Void, any Error>
    }

    /// Numbers the waits, so that a cancellation finds its own.
    private var nextWaitID: UInt64 = 0

    /// Runs `body` on the state of `filter`'s direction, in place.
    private func withDirection<R>(_ filter: KEvent.Filter, _ body: (inout Direction) -> R) -> R {
        filter == .read ? body(&input) : body(&output)
    }

    private var input = Direction()
    private var output = Direction()
    /// A read that takes every byte the last event counted leaves nothing to read: true for
    /// byte streams, false for datagram sockets.
    private let countsWholeBuffer: Bool
    private var isClosed = false

    /// Registers `descriptor` with `loop` and takes ownership of it. Its read knote goes to
    /// the kernel with the loop's next `kevent` call; a descriptor the kernel refuses (not
    /// open: EBADF) makes the first operation that waits throw. From any thread; on a loop that
    /// has stopped, every operation throws `CancellationError`.
    ///
    /// - Throws: `Errno.badFileDescriptor` for a negative descriptor.
    public init(_ descriptor: CInt, on loop: KQueueLoop) throws(Errno) {
        guard descriptor >= 0 else { throw .badFileDescriptor }
        self.loop = loop
        self.descriptor = descriptor
        countsWholeBuffer = !Self.isDatagramSocket(descriptor)
        if loop.isCurrent {
            registerOnLoop()
        } else if !loop.execute({ self.registerOnLoop() }) {
            isClosed = true  // the loop has stopped; the job will never run
        }
    }

    private func registerOnLoop() {
        let state = loop.core.state
        guard !state.pointee.isStopping else {
            isClosed = true
            return
        }
        state.pointee.descriptors.registered[ObjectIdentifier(self)] = self
        register(.read)
    }

    // MARK: Operations

    /// Reads into `buffer`, waiting first if the descriptor is known to have nothing to read.
    ///
    /// - Returns: the number of bytes read; 0 at end-of-file (or for an empty buffer).
    /// - Throws: the read's `Errno` (`ECONNRESET` …) other than EWOULDBLOCK, which waits;
    ///   `CancellationError` if the task is cancelled while it waits, or the loop shuts down;
    ///   `Errno.badFileDescriptor` once the descriptor is closed, or if the kernel refused it.
    public func read(into buffer: UnsafeMutableRawBufferPointer) async throws -> Int {
        guard loop.isCurrent else { return try await onLoop { try await self.read(into: buffer) } }
        while true {
            try await waitUntilReady(.read)
            do {
                let count = try FileDescriptor(rawValue: descriptor).read(into: buffer)
                consumed(count)
                return count
            } catch Errno.wouldBlock {
                input.isReady = false
            }
        }
    }

    /// Runs `operation` (a read, recv(2), accept(2) …) once the descriptor may be readable; when
    /// it fails with EWOULDBLOCK, waits for the next event and runs it again.
    ///
    /// - Returns: what `operation` returns.
    /// - Throws: `operation`'s error other than EWOULDBLOCK; `CancellationError` if the task is
    ///   cancelled while it waits, or the loop shuts down; `Errno.badFileDescriptor` once the
    ///   descriptor is closed, or if the kernel refused it.
    public func whenReadable<Result>(_ operation: () throws -> Result) async throws -> Result {
        try await when(.read, operation)
    }

    /// Runs `operation` (a write, send(2) …) once the descriptor may be writable; when it fails
    /// with EWOULDBLOCK, waits for space (the write knote is added at the first such wait) and
    /// runs it again.
    ///
    /// - Returns: what `operation` returns.
    /// - Throws: `operation`'s error other than EWOULDBLOCK (`EPIPE` …); `CancellationError` if
    ///   the task is cancelled while it waits, or the loop shuts down;
    ///   `Errno.badFileDescriptor` once the descriptor is closed, or if the kernel refused it.
    public func whenWritable<Result>(_ operation: () throws -> Result) async throws -> Result {
        try await when(.write, operation)
    }

    /// Runs `operation` once `filter`'s direction may be ready, and again after each
    /// EWOULDBLOCK and the event that follows it.
    private func when<Result>(_ filter: KEvent.Filter, _ operation: () throws -> Result) async throws -> Result {
        guard loop.isCurrent else { return try await onLoop { try await self.when(filter, operation) } }
        while true {
            try await waitUntilReady(filter)
            do {
                let result = try operation()
                if filter == .read { input.known = nil }  // what the operation took is unknown
                return result
            } catch Errno.wouldBlock {
                withDirection(filter) { $0.isReady = false }
            }
        }
    }

    /// Removes the descriptor's knotes and closes it; tasks waiting on it resume with
    /// `Errno.badFileDescriptor`. From any thread; a second call does nothing.
    public func close() {
        if loop.isCurrent {
            closeOnLoop()
        } else if !loop.execute({ self.closeOnLoop() }) {
            // The loop has stopped (it dropped its registrations): the descriptor alone is left.
            closeOnLoopStopped()
        }
    }

    // MARK: On the loop

    // An operation starts on the generic executor (it is a nonisolated async function), which
    // is the task's preferred executor if it has one: on the loop's thread, then, it is a task
    // that prefers the loop, and after a wait it resumes there. Any other task goes through
    // `onLoop`.

    /// Runs `body` with the loop as the task's executor preference, on the loop's thread: a
    /// call from another task, or from an actor, moves onto the loop for the operation and its
    /// waits.
    private func onLoop<R>(_ body: () async throws -> R) async throws -> R {
        if loop.core.isStopRequested { throw CancellationError() }
        return try await withTaskExecutorPreference(loop) {
            // The preference takes effect when the task is next enqueued: enqueue it.
            if !loop.isCurrent {
                await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                    if !loop.execute({ continuation.resume() }) { continuation.resume() }
                }
            }
            guard loop.isCurrent else { throw CancellationError() }  // the loop has stopped
            return try await body()
        }
    }

    /// Accounts for a read of `count` bytes: once the bytes the last event counted are all
    /// read, nothing is left until the next event.
    private func consumed(_ count: Int) {
        guard let known = input.known, count > 0 else { return }
        let left = known - count
        if left > 0 {
            input.known = left
        } else {
            input.known = nil
            if !input.isEndOfFile { input.isReady = false }
        }
    }

    private func waitUntilReady(_ filter: KEvent.Filter) async throws {
        try checkOnLoop()
        let (isReady, isRegistered, failure) = withDirection(filter) { ($0.isReady, $0.isRegistered, $0.failure) }
        if let failure { throw failure }
        if isReady { return }
        if !isRegistered { register(filter) }
        try Task.checkCancellation()
        nextWaitID &+= 1
        let id = nextWaitID
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                // Cancelled before the wait was in place: its handler's job will find nothing.
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    withDirection(filter) { $0.add(Waiter(id: id, continuation: continuation)) }
                }
            }
        } onCancel: { [self] in
            // From any thread: the loop resumes the waiter, if it still waits. A loop that has
            // stopped resumed it already.
            _ = loop.execute { self.cancelWait(id, filter) }
        }
        // A close or a shutdown may have come between the event and this task's turn.
        try checkOnLoop()
    }

    /// On the loop's thread (the operations move there first): throws `CancellationError` once
    /// the loop is stopping and `EBADF` once closed.
    private func checkOnLoop() throws {
        if !loop.isCurrent || loop.core.state.pointee.isStopping { throw CancellationError() }
        if isClosed { throw Errno.badFileDescriptor }
    }

    private func register(_ filter: KEvent.Filter) {
        if filter == .read { input.isRegistered = true } else { output.isRegistered = true }
        loop.core.state.pointee.events.changes.append(
            KEvent(ident: UInt(descriptor), filter: filter, flags: [.add, .clear], udata: udata)
        )
    }

    private var udata: UInt {
        UInt(bitPattern: Unmanaged.passUnretained(self).toOpaque())
    }

    /// Whether `udata` of a read or write event names a `LoopDescriptor`: a nonzero even value
    /// (the loop's one-shot registrations are odd).
    static func names(_ event: KEvent) -> Bool {
        event.udata != 0 && !LoopEvents.names(event.udata) && (event.filter == .read || event.filter == .write)
    }

    /// On the loop's thread: an event (or an `EV_ERROR` entry) of a knote of this descriptor.
    /// The loop keeps the object alive while its knotes exist, and for one `kevent` call after
    /// their deletion (``LoopDescriptors``).
    static func deliver(_ event: KEvent) {
        guard let address = UnsafeRawPointer(bitPattern: event.udata) else { return }
        Unmanaged<LoopDescriptor>.fromOpaque(address).takeUnretainedValue().record(event)
    }

    private func record(_ event: KEvent) {
        guard !isClosed else { return }
        let failure = event.flags.contains(.error) ? Errno(rawValue: CInt(truncatingIfNeeded: event.data)) : nil
        let countsWholeBuffer = self.countsWholeBuffer
        let waiters = withDirection(event.filter) { direction in
            if let failure {
                direction.failure = failure
            } else {
                direction.isReady = true
                if event.flags.contains(.eof) { direction.isEndOfFile = true }
                if event.filter == .read { direction.known = countsWholeBuffer && event.data > 0 ? event.data : nil }
            }
            return direction.takeWaiters()
        }
        waiters.resume(with: failure.map { .failure($0) } ?? .success(()))
    }

    private func cancelWait(_ id: UInt64, _ filter: KEvent.Filter) {
        withDirection(filter) { $0.remove(id) }?.continuation.resume(throwing: CancellationError())
    }

    private func closeOnLoop() {
        guard !isClosed else { return }
        isClosed = true
        let state = loop.core.state
        for (filter, isRegistered) in [(KEvent.Filter.read, input.isRegistered), (.write, output.isRegistered)]
        where isRegistered {
            // udata 0: the deletion's error (ENOENT where closing removed the knote) is ignored.
            state.pointee.events.changes.append(KEvent(ident: UInt(descriptor), filter: filter, flags: .delete))
        }
        if let registered = state.pointee.descriptors.registered.removeValue(forKey: ObjectIdentifier(self)) {
            state.pointee.descriptors.retiring.append(registered)
        }
        failWaiters(Errno.badFileDescriptor)
        try? FileDescriptor(rawValue: descriptor).close()
    }

    private func closeOnLoopStopped() {
        guard !isClosed else { return }
        isClosed = true
        try? FileDescriptor(rawValue: descriptor).close()
    }

    /// On the loop's thread, at shutdown: every waiter resumes with `CancellationError`.
    fileprivate func abandon() {
        failWaiters(CancellationError())
    }

    private func failWaiters(_ error: any Error) {
        input.takeWaiters().resume(with: .failure(error))
        output.takeWaiters().resume(with: .failure(error))
    }

    /// Whether `descriptor` is a socket whose read count is one datagram, not the whole buffer.
    private static func isDatagramSocket(_ descriptor: CInt) -> Bool {
        var type: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_TYPE, &type, &length) == 0 else { return false }
        #if canImport(Glibc)
        return type != CInt(SOCK_STREAM.rawValue)
        #else
        return type != SOCK_STREAM
        #endif
    }
}

/// A loop's ``LoopDescriptor``s: the registered ones, and the ones closed since the last
/// `kevent` call, kept alive until that call (which deletes their knotes) and the delivery of
/// its events are over, so an `EV_ERROR` entry naming one still finds it.
///
/// Reached only on the loop's thread.
struct LoopDescriptors {
    var registered: [ObjectIdentifier: LoopDescriptor] = [:]
    var retiring: [LoopDescriptor] = []

    /// At shutdown: every waiter resumes with `CancellationError`, and the registrations go.
    mutating func abandonAll() {
        for descriptor in registered.values { descriptor.abandon() }
        registered.removeAll()
        retiring.removeAll()
    }
}

extension KQueueLoop {
    /// The number of ``LoopDescriptor``s registered with the loop (closed ones not included),
    /// asked of the loop; for tests and diagnostics.
    package var descriptorRegistrationCount: Int {
        get async {
            await withCheckedContinuation { continuation in
                if !execute({ continuation.resume(returning: self.core.state.pointee.descriptors.registered.count) }) {
                    continuation.resume(returning: 0)
                }
            }
        }
    }
}
