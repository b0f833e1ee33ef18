import KQueue
import SystemPackage

/// The deliveries of one signal to a loop's queue (EVFILT_SIGNAL), as an `AsyncSequence`:
/// each element is the number of deliveries since the previous element (at least 1).
///
/// ```swift
/// for await count in try loop.signals(SIGTERM) {
///     print("SIGTERM ×\(count)")
///     break
/// }
/// ```
///
/// Deliveries are counted from the moment ``KQueueLoop/signals(_:)`` returns, whether or not a
/// task is waiting: none is lost. The sequence ends (`next()` returns nil) when the loop shuts
/// down, or when the waiting task is cancelled. The signal stays watched while the sequence or
/// one of its iterators exists; one task at a time may wait for the next element (a second
/// concurrent `next()` returns nil at once).
///
/// What kqueue needs of signals applies: on Linux the signal must be blocked in every thread
/// (`sigprocmask` before any thread is created), or it takes its default action instead of
/// being counted; on macOS and the BSDs the signal's disposition still applies, so ignore it
/// (`SIG_IGN`) to only count it. Several sequences for one signal, on one loop or several,
/// each count every delivery.
public struct SignalDeliveries: AsyncSequence, Sendable {
    public typealias Element = Int
    public typealias Failure = Never

    let subscription: SignalSubscription

    public func makeAsyncIterator() -> Iterator {
        Iterator(subscription: subscription)
    }

    /// Waits for the deliveries of a ``SignalDeliveries`` sequence.
    public struct Iterator: AsyncIteratorProtocol {
        let subscription: SignalSubscription

        /// The number of deliveries since the previous element, once there is at least one;
        /// nil once the loop has shut down or the task is cancelled.
        public mutating func next() async -> Int? {
            await subscription.next()
        }
    }
}

extension KQueueLoop {
    /// Starts counting the deliveries of `signal` to this loop's queue.
    ///
    /// Callable from any thread. The knote (one per signal and loop, shared by every sequence
    /// for that signal) is added before this returns, and deleted when the last sequence for
    /// the signal is gone.
    ///
    /// - Throws: `Errno` if the kernel refuses the signal (EINVAL for a number that is not a
    ///   signal), or the loop has shut down (EBADF).
    public func signals(_ signal: CInt) throws(Errno) -> SignalDeliveries {
        SignalDeliveries(subscription: try core.subscribe(to: signal))
    }
}

/// One sequence's count of a signal's deliveries, and the task waiting for it.
final class SignalSubscription: @unchecked Sendable {
    // @unchecked: `state` is locked; `watch` is immutable.
    private struct State {
        var count = 0
        var waiting: UnsafeContinuation<Int?, Never>?
        var isFinished = false
    }

    private let state = Locked(State())
    private let watch: SignalWatch

    init(watch: SignalWatch) {
        self.watch = watch
    }

    deinit {
        watch.unsubscribe(self)
    }

    /// `count` more deliveries (from the loop's thread).
    func add(_ count: Int) {
        let waiting = state.withLock { state -> UnsafeContinuation<Int?, Never>? in
            state.count &+= count
            guard let waiting = state.waiting else { return nil }
            state.waiting = nil
            state.count = 0
            return waiting
        }
        waiting?.resume(returning: count)
    }

    /// No more deliveries: the loop has shut down, or the waiting task was cancelled.
    func finish() {
        let waiting = state.withLock { state -> UnsafeContinuation<Int?, Never>? in
            state.isFinished = true
            defer { state.waiting = nil }
            return state.waiting
        }
        waiting?.resume(returning: nil)
    }

    func next() async -> Int? {
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Int?, Never>) in
                let answer = state.withLock { state -> Int?? in
                    if state.count > 0 {
                        defer { state.count = 0 }
                        return .some(state.count)
                    }
                    if state.isFinished || state.waiting != nil || Task.isCancelled { return .some(nil) }
                    state.waiting = continuation
                    return .none
                }
                if let answer { continuation.resume(returning: answer) }
            }
        } onCancel: {
            finish()
        }
    }
}

/// A loop's knote for one signal, and the subscriptions counting its deliveries.
///
/// The knote's `udata` is the watch's address; the loop's thread turns it back into the watch
/// (``deliver(_:)``). The loop's registry keeps the watch alive while its knote exists, and for
/// one more turn of the loop after it is deleted, so an event the loop took from the kernel
/// before the deletion still finds it.
final class SignalWatch: @unchecked Sendable {
    // @unchecked: `subscribers` is reached only under the loop's signal registry lock
    // (`LoopCore.signalWatches`); `signal` and `core` are immutable.
    private struct Subscriber {
        weak var subscription: SignalSubscription?
    }

    let signal: CInt
    private unowned(unsafe) let core: LoopCore
    private var subscribers: [Subscriber] = []

    init(signal: CInt, core: LoopCore) {
        self.signal = signal
        self.core = core
    }

    var udata: UInt {
        UInt(bitPattern: Unmanaged.passUnretained(self).toOpaque())
    }

    /// On the loop's thread: an EVFILT_SIGNAL event; `data` deliveries since the last one.
    static func deliver(_ event: KEvent) {
        guard event.udata != 0, !event.flags.contains(.error),
            let address = UnsafeRawPointer(bitPattern: event.udata)
        else { return }
        let watch = Unmanaged<SignalWatch>.fromOpaque(address).takeUnretainedValue()
        let subscriptions = watch.core.signalWatches.withLock { _ in
            watch.subscribers.compactMap(\.subscription)
        }
        for subscription in subscriptions { subscription.add(max(event.data, 1)) }
    }

    /// A subscription ended; the last one deletes the knote.
    func unsubscribe(_ subscription: SignalSubscription) {
        core.unsubscribe(subscription, from: self)
    }

    /// Under the registry lock.
    fileprivate func add(_ subscription: SignalSubscription) {
        subscribers.append(Subscriber(subscription: subscription))
    }

    /// Under the registry lock: removes `subscription` (and any that are gone); true if none
    /// is left.
    fileprivate func remove(_ subscription: SignalSubscription) -> Bool {
        subscribers.removeAll { $0.subscription == nil || $0.subscription === subscription }
        return subscribers.isEmpty
    }

    /// Under the registry lock, at shutdown.
    fileprivate func finishAll() {
        for subscriber in subscribers { subscriber.subscription?.finish() }
        subscribers.removeAll()
    }
}

extension LoopCore {
    func subscribe(to signal: CInt) throws(Errno) -> SignalSubscription {
        try signalWatches.withLock { (watches) throws(Errno) -> SignalSubscription in
            // Checked under the lock that `finishSignals` takes after a stop was requested.
            guard !isStopRequested else { throw .badFileDescriptor }
            if let watch = watches[signal] {
                let subscription = SignalSubscription(watch: watch)
                watch.add(subscription)
                return subscription
            }
            let watch = SignalWatch(signal: signal, core: self)
            try queue.kevent(changes: [
                KEvent(ident: UInt(bitPattern: Int(signal)), filter: .signal, flags: [.add, .clear], udata: watch.udata)
            ])
            watches[signal] = watch
            let subscription = SignalSubscription(watch: watch)
            watch.add(subscription)
            return subscription
        }
    }

    fileprivate func unsubscribe(_ subscription: SignalSubscription, from watch: SignalWatch) {
        let emptied = signalWatches.withLock { watches -> SignalWatch? in
            guard watches[watch.signal] === watch, watch.remove(subscription) else { return nil }
            watches[watch.signal] = nil
            try? queue.kevent(changes: [KEvent(ident: UInt(bitPattern: Int(watch.signal)), filter: .signal, flags: .delete)])
            return watch
        }
        // The loop may hold an event of the deleted knote until the end of its turn.
        if let emptied { _ = submit(.closure({ withExtendedLifetime(emptied) {} })) }
    }

    /// At shutdown: every sequence ends.
    func finishSignals() {
        signalWatches.withLock { watches in
            for watch in watches.values { watch.finishAll() }
        }
    }
}
