/// A scheduled timer, to cancel it or ask whether it is still pending.
///
/// A handle is a small value with no reference count: copying, storing and dropping one
/// costs nothing, and keeping one does not keep the timer's callback alive after it fired.
/// A handle whose timer fired or was cancelled can never affect another timer, and a handle
/// stays safe to use after its loop or clock is gone (it then names no pending timer).
public struct TimerHandle: Sendable {
    enum Kind {
        /// A one-shot timer in the owner's wheel.
        case local(TimerID)
        /// A one-shot timer scheduled on a loop from another thread.
        case remote(RemoteTimer)
        /// A periodic timer.
        case periodic(PeriodicTimer)
    }

    // Unmanaged: owners are immortal (see `TimerOwner`), so the reference is always valid,
    // and neither copying a handle nor calling through it touches a reference count.
    private let owner: Unmanaged<TimerOwner>
    let kind: Kind

    init(owner: TimerOwner, kind: Kind) {
        self.owner = .passUnretained(owner)
        self.kind = kind
    }

    /// Whether the handle names a timer of `owner` (and not of another loop or clock).
    func belongs(to owner: TimerOwner) -> Bool {
        self.owner.toOpaque() == Unmanaged.passUnretained(owner).toOpaque()
    }

    /// Cancels the timer, from any thread.
    ///
    /// - Returns: true if this call kept the timer from firing (for a periodic timer: from
    ///   firing again), in which case its callback never starts; false if it already fired,
    ///   has begun to fire, or was cancelled, in which case it fires (or fired) exactly once.
    ///   A periodic tick that is already running finishes.
    /// - Complexity: O(1), and lock-free.
    @discardableResult
    public func cancel() -> Bool {
        owner._withUnsafeGuaranteedRef { $0.cancel(kind) }
    }

    /// Whether the timer will still fire: it was neither cancelled nor (for a one-shot
    /// timer) fired.
    public var isPending: Bool {
        owner._withUnsafeGuaranteedRef { $0.isPending(kind) }
    }
}

/// What owns timers and answers for their handles: a loop's core, or a manual clock's.
///
/// Owners are immortal: an owner retains itself when it is created and is never freed, so
/// a ``TimerHandle`` can refer to it without a reference count (a retain on every copy would
/// be an atomic read-modify-write on the loop's hot path). An owner is small; what is large
/// (the wheel, the jobs) belongs to the loop or clock and is freed with it, after which the
/// owner answers every handle with "not pending".
class TimerOwner: @unchecked Sendable {
    // @unchecked: subclasses guard their state (atomics, a lock, or the loop's thread).
    init() {
        _ = Unmanaged.passRetained(self)
    }

    func cancel(_ timer: TimerHandle.Kind) -> Bool {
        preconditionFailure("TimerOwner.cancel is abstract")
    }

    func isPending(_ timer: TimerHandle.Kind) -> Bool {
        preconditionFailure("TimerOwner.isPending is abstract")
    }
}
