import KQueue
import Synchronization

/// How other threads reach a loop's thread: a list of messages behind a lock held only to
/// append or to take the whole list, and a wake-up through the loop's kernel queue that is
/// sent at most once per batch.
///
/// The loop's thread, before it sleeps in the kernel, announces it (``prepareToSleep()``)
/// and looks at the list once more; a sender, after appending, wakes the loop only if it
/// finds the announcement, and takes it down as it does. So a loop that is busy is never
/// woken, and a loop that sleeps is woken once, however many messages arrive.
final class LoopInbox: Sendable {
    private struct State: ~Copyable {
        var messages: [LoopMessage] = []
        var isClosed = false
    }

    private let state = Locked(State())
    /// The loop's thread is about to sleep, or sleeps, in the kernel.
    private let isSleeping = Atomic<Bool>(false)
    private let queue: KQueue
    /// The change that triggers the loop's EVFILT_USER event, allocated once.
    private let trigger: [KEvent]

    static let wakeIdent: UInt = 1

    init(queue: KQueue) {
        self.queue = queue
        self.trigger = [KEvent(ident: Self.wakeIdent, filter: .user, fflags: .trigger)]
    }

    /// Any thread: appends a message and wakes the loop if it sleeps.
    ///
    /// - Returns: false if the loop has stopped taking messages (the message is dropped).
    func send(_ message: consuming LoopMessage) -> Bool {
        // Moved in, not copied: a copy would retain the job's closure once more.
        var message = Optional(message)
        let accepted = state.withLock { state -> Bool in
            guard !state.isClosed else { return false }
            state.messages.append(message.take()!)
            return true
        }
        if accepted && isSleeping.exchange(false, ordering: .sequentiallyConsistent) {
            wake()
        }
        return accepted
    }

    /// Wakes the loop's thread from the kernel.
    func wake() {
        try? queue.kevent(changes: trigger)
    }

    /// The loop's thread: takes every message sent so far, in the order they were sent.
    func take(into messages: inout [LoopMessage]) {
        state.withLock { swap(&$0.messages, &messages) }
    }

    /// The loop's thread: announces that it is about to sleep.
    ///
    /// - Returns: false if messages arrived meanwhile (do not sleep; take them).
    func prepareToSleep() -> Bool {
        isSleeping.store(true, ordering: .sequentiallyConsistent)
        let isEmpty = state.withLock { $0.messages.isEmpty }
        if !isEmpty { isSleeping.store(false, ordering: .relaxed) }
        return isEmpty
    }

    /// The loop's thread: it is awake again.
    func awake() {
        isSleeping.store(false, ordering: .relaxed)
    }

    /// Any thread: whether messages wait (a spinning loop looks at this).
    var hasMessages: Bool {
        state.withLock { !$0.messages.isEmpty }
    }

    /// The loop's thread: refuses every later message and returns those still waiting.
    func close() -> [LoopMessage] {
        state.withLock { state in
            state.isClosed = true
            defer { state.messages = [] }
            return state.messages
        }
    }
}
