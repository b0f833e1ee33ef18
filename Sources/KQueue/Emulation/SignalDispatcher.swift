#if os(Linux) && !KQUEUE_LIBKQUEUE
internal import CKQueueShims
#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Musl)
@preconcurrency import Musl
#endif
import Synchronization
import SystemPackage

/// EVFILT_SIGNAL's one signalfd for the whole process, and the fan-out of every signal read
/// from it to every queue that watches that signal.
///
/// Reading a signalfd consumes the signal, so one signalfd per queue would give each delivery
/// to one queue only. The process has one signalfd instead, whose mask is the union of the
/// signals that any queue watches (re-armed with signalfd(2) when the union changes), created
/// with the first watch and closed when the last queue stops watching. Each watching queue
/// is a *watcher*: the dispatcher's signalfd is in the queue's epoll set (level-triggered),
/// and so is the watcher's *mailbox*, an eventfd of the queue's own.
///
/// Whichever thread reads the signalfd — every locked section of a watching queue does, see
/// ``collect(_:_:)`` — counts each signal it reads for every watcher of that signal, writes
/// the mailbox of every other watcher that had nothing pending, and takes its own queue's
/// counts. A queue woken by its mailbox takes the counts the others left for it. So each
/// delivery is counted once by every queue watching the signal, whichever queue's thread read
/// it, and no queue takes another's.
///
/// **Lock order:** a queue's lock, then the dispatcher's; never the reverse. Every call is
/// made by a queue holding its own lock. Under its lock the dispatcher takes no other lock:
/// it reaches the other queues only through their mailboxes (an eventfd write), which stay
/// open while they are registered, since a queue leaves (under the dispatcher's lock) before
/// it closes its mailbox.
///
/// **Threads.** signalfd(2) reads the signals pending for the process and those pending for
/// the calling thread. A signal sent to one thread (`pthread_kill`, `tgkill`) is therefore
/// read, and counted for every watcher, when that thread calls kevent on a watching queue or
/// waits in it (a waiting thread polls the signalfd itself, see ``EmulatedQueue``).
///
/// **fork(2).** A child inherits the dispatcher's memory but must not use it: its lock may
/// have been held by a thread that does not exist in the child, and its watchers are the
/// parent's queues (whose epoll sets the child shares). ``current`` notices the fork (through
/// ``ForkEpoch`` and the pid, as ``EmulatedQueue`` does) and gives the child a dispatcher of
/// its own, empty; the inherited one is never touched again, nor released (releasing it
/// would destroy a mutex that may be locked). Its signalfd stays open in the child until
/// exec (it is close-on-exec), as the inherited queues' descriptors do.
final class SignalDispatcher: Sendable {
    /// A queue's registration with the dispatcher, kept in the queue's state.
    struct Watch {
        let dispatcher: SignalDispatcher
        let id: UInt64
        /// The dispatcher's signalfd, in the queue's epoll set: the queue owns the number
        /// while it watches (a change naming it is EBADF).
        let descriptor: CInt
        /// The queue's mailbox eventfd (owned by the queue), in its epoll set.
        let mailbox: CInt
    }

    private struct Watcher {
        let id: UInt64
        /// The epoll set the signalfd is registered in.
        let epoll: CInt
        let mailbox: CInt
        /// The watched signals, bit `n - 1` for signal n.
        var signals: UInt64
        /// Deliveries not yet taken by the queue, by signal number - 1.
        var counts: [Int]
        /// The signals whose count is not zero.
        var pending: UInt64 = 0
        /// Whether the mailbox has been written since the queue last took its counts.
        var isNotified = false
    }

    private struct State {
        /// The signalfd, -1 while no queue watches a signal.
        var descriptor: CInt = -1
        /// The signalfd's mask: the union of the watchers' signals.
        var signals: UInt64 = 0
        var watchers: [Watcher] = []
        var nextID: UInt64 = 1

        func index(of id: UInt64) -> Int {
            guard let index = watchers.firstIndex(where: { $0.id == id }) else {
                preconditionFailure("signal watcher \(id) is not registered")
            }
            return index
        }

        var union: UInt64 {
            watchers.reduce(0) { $0 | $1.signals }
        }
    }

    private let state = Locked(State())
    /// The process the dispatcher belongs to.
    private let owner = getpid()
    /// The ``ForkEpoch`` at which `owner` was last confirmed to be this process.
    private let confirmedEpoch = Atomic<UInt64>(ForkEpoch.current)

    private init() {}

    private static let installed = Atomic<Unmanaged<SignalDispatcher>?>(nil)

    /// The dispatcher of this process (a child forked since the last one was made gets a new
    /// one).
    static var current: SignalDispatcher {
        var expected = installed.load(ordering: .acquiring)
        if let existing = expected?.takeUnretainedValue(), existing.belongsToThisProcess { return existing }
        let fresh = Unmanaged.passRetained(SignalDispatcher())
        while true {
            let (exchanged, original) = installed.compareExchange(
                expected: expected,
                desired: fresh,
                ordering: .acquiringAndReleasing
            )
            if exchanged { return fresh.takeUnretainedValue() }
            if let other = original?.takeUnretainedValue(), other.belongsToThisProcess {
                // Another thread of this process installed one first.
                fresh.release()
                return other
            }
            expected = original
        }
    }

    private var belongsToThisProcess: Bool {
        let epoch = ForkEpoch.current
        if epoch == confirmedEpoch.load(ordering: .relaxed) { return true }
        if getpid() != owner { return false }
        confirmedEpoch.store(epoch, ordering: .relaxed)
        return true
    }

    /// Registers a queue watching `signals` (a mask, bit n - 1 for signal n): widens the
    /// signalfd's mask (creating the signalfd for the first watcher) and adds it to `epoll`.
    ///
    /// - Parameter mailbox: the queue's eventfd, already in its epoll set.
    /// - Throws: the error of signalfd(2) or epoll_ctl(2); nothing is registered then.
    func join(signals: UInt64, epoll: CInt, mailbox: CInt) throws(Errno) -> Watch {
        try state.withLock { (state) throws(Errno) -> Watch in
            let created = state.descriptor < 0
            let previous = state.signals
            try Self.arm(&state, signals: previous | signals)
            do throws(Errno) {
                let token = EpollToken(kind: .signal, descriptor: state.descriptor, generation: 0)
                try Epoll.add(epoll, state.descriptor, events: UInt32(ckq_EPOLLIN), token: token)
            } catch {
                if created {
                    closeDescriptor(state.descriptor)
                    state.descriptor = -1
                    state.signals = 0
                } else {
                    try? Self.arm(&state, signals: previous)
                }
                throw error
            }
            let id = state.nextID
            state.nextID += 1
            state.watchers.append(
                Watcher(id: id, epoll: epoll, mailbox: mailbox, signals: signals, counts: Array(repeating: 0, count: 64))
            )
            return Watch(dispatcher: self, id: id, descriptor: state.descriptor, mailbox: mailbox)
        }
    }

    /// Changes the signals a registered queue watches. Deliveries counted for a signal it no
    /// longer watches are dropped, so a later watch of it starts from zero.
    ///
    /// - Throws: the error of signalfd(2) when the mask had to widen; nothing changed then.
    ///   Narrowing cannot fail but by a bug.
    func change(_ watch: Watch, signals: UInt64) throws(Errno) {
        try state.withLock { (state) throws(Errno) in
            let index = state.index(of: watch.id)
            let previous = state.watchers[index].signals
            state.watchers[index].signals = signals
            do throws(Errno) {
                try Self.arm(&state, signals: state.union)
            } catch {
                state.watchers[index].signals = previous
                throw error
            }
            let dropped = previous & ~signals
            var bits = state.watchers[index].pending & dropped
            while bits != 0 {
                state.watchers[index].counts[bits.trailingZeroBitCount] = 0
                bits &= bits - 1
            }
            state.watchers[index].pending &= ~dropped
        }
    }

    /// Unregisters a queue: removes the signalfd from its epoll set and narrows the mask, or
    /// closes the signalfd when no watcher is left. The queue may close its mailbox after this.
    func leave(_ watch: Watch) {
        state.withLock { state in
            let index = state.index(of: watch.id)
            let watcher = state.watchers.remove(at: index)
            Epoll.removeIfPresent(watcher.epoll, state.descriptor)
            if state.watchers.isEmpty {
                closeDescriptor(state.descriptor)
                state.descriptor = -1
                state.signals = 0
            } else {
                do throws(Errno) {
                    try Self.arm(&state, signals: state.union)
                } catch {
                    preconditionFailure("narrowing the signalfd's mask failed: \(error)")
                }
            }
        }
    }

    /// Reads every signal pending for the process or the calling thread, counts each one for
    /// every watcher of it, and calls `body` with the counts of `watch`'s queue (signal number,
    /// deliveries since it last collected), which are taken.
    ///
    /// `body` runs under the dispatcher's lock; it may touch only its own queue's state.
    func collect(_ watch: Watch, _ body: (CInt, Int) -> Void) {
        state.withLock { state in
            let own = state.index(of: watch.id)
            SignalFD.drain(state.descriptor) { signal in
                let bit: UInt64 = 1 << UInt64(signal - 1)
                for index in state.watchers.indices where state.watchers[index].signals & bit != 0 {
                    state.watchers[index].counts[Int(signal - 1)] += 1
                    state.watchers[index].pending |= bit
                    if index != own && !state.watchers[index].isNotified {
                        EventFD.signal(state.watchers[index].mailbox)
                        state.watchers[index].isNotified = true
                    }
                }
            }
            if state.watchers[own].isNotified {
                EventFD.drain(state.watchers[own].mailbox)
                state.watchers[own].isNotified = false
            }
            var bits = state.watchers[own].pending
            while bits != 0 {
                let slot = bits.trailingZeroBitCount
                body(CInt(slot + 1), state.watchers[own].counts[slot])
                state.watchers[own].counts[slot] = 0
                bits &= bits - 1
            }
            state.watchers[own].pending = 0
        }
    }

    /// The number of registered queues and the signalfd (-1 when there is none), for tests.
    var status: (watchers: Int, descriptor: CInt) {
        state.withLock { ($0.watchers.count, $0.descriptor) }
    }

    /// Gives the signalfd the mask `signals`, creating it if there is none.
    private static func arm(_ state: inout State, signals: UInt64) throws(Errno) {
        guard state.descriptor < 0 || signals != state.signals else { return }
        var numbers: [CInt] = []
        var bits = signals
        while bits != 0 {
            numbers.append(CInt(bits.trailingZeroBitCount + 1))
            bits &= bits - 1
        }
        state.descriptor = try SignalFD.set(state.descriptor, signals: numbers)
        state.signals = signals
    }
}
#endif
