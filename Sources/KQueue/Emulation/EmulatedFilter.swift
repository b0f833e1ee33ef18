#if os(Linux) && !KQUEUE_LIBKQUEUE
import SystemPackage

/// The shape every emulated filter has: the kernel's filter operations.
///
/// ``EmulatedQueue`` owns the generic knote life cycle (the (ident, filter) table, EV_ADD /
/// EV_DELETE / EV_ENABLE / EV_DISABLE, the ready queue, EV_ONESHOT / EV_DISPATCH / EV_CLEAR
/// after delivery); a filter owns its source and the meaning of `fflags` and `data`.
/// A filter marks its knote ``Knote/isActive`` when its condition holds and asks the queue
/// to ``QueueState/activate(_:)`` it.
protocol EmulatedFilter {
    /// Validates a new registration and records it in the knote. Nothing is armed yet:
    /// ``update(_:in:)`` follows. An error discards the knote.
    static func attach(_ knote: Int32, _ change: KEvent, to queue: inout QueueState) -> Errno?

    /// Applies a change to an existing knote (every change but EV_DELETE, as on macOS).
    /// An error leaves the knote as it was.
    static func touch(_ knote: Int32, _ change: KEvent, in queue: inout QueueState) -> Errno?

    /// Brings the source in line with the knote after a change or a delivery (a timer is
    /// armed exactly while its knote is enabled and has expirations ahead).
    static func update(_ knote: Int32, in queue: inout QueueState)

    /// Stops the source before the knote is deleted.
    static func detach(_ knote: Int32, from queue: inout QueueState)

    /// Stops the source before a one-shot knote that was just delivered is deleted; the same
    /// as ``detach(_:from:)`` unless the filter can keep something for the next knote of the
    /// same source.
    static func retire(_ knote: Int32, from queue: inout QueueState)

    /// The event to return for a queued knote, resetting the state that EV_CLEAR resets; nil
    /// when the condition no longer holds (the knote is then dropped from the ready queue, and
    /// the filter may have removed it, when its source is gone).
    static func deliver(_ knote: Int32, from queue: inout QueueState) -> KEvent?
}

extension EmulatedFilter {
    static func retire(_ knote: Int32, from queue: inout QueueState) {
        detach(knote, from: &queue)
    }
}
#endif
