/// One kernel event: a change to submit to a ``KQueue`` or an event it returned.
///
/// The fields are those of the BSD `struct kevent`. A knote (a registered event) is
/// identified by the pair (``ident``, ``filter``) within one queue: the same ident may be
/// used by different filters, and the same pair in two queues names two independent knotes.
///
/// ```swift
/// let timer = KEvent(ident: 1, filter: .timer, flags: [.add, .enable], data: 1000)
/// ```
public struct KEvent: Sendable, Hashable {
    /// The identifier of the event source: a timer id, a user event id, a file descriptor,
    /// a signal number or a process id, depending on ``filter``.
    public var ident: UInt

    /// The kernel filter that processes the event (`EVFILT_*`).
    public var filter: Filter

    /// The actions to apply on input (``Flags/add``, ``Flags/delete`` …) and the state
    /// reported on output (``Flags/eof``, ``Flags/error`` …).
    public var flags: Flags

    /// Filter-specific flags (`NOTE_*`): timer units, user-event triggers and so on.
    public var fflags: FilterFlags

    /// Filter-specific data. For a timer: the period or deadline on input, the number of
    /// expirations since the last retrieval on output. For an ``Flags/error`` entry: the errno.
    public var data: Int

    /// An opaque value passed through the kernel unchanged.
    public var udata: UInt

    /// Creates an event.
    ///
    /// `KEvent()` is a valid placeholder, e.g. to size the `events` buffer of
    /// ``KQueue/kevent(changes:events:timeout:)``. The filter defaults to ``Filter/timer``.
    public init(
        ident: UInt = 0,
        filter: Filter = .timer,
        flags: Flags = [],
        fflags: FilterFlags = [],
        data: Int = 0,
        udata: UInt = 0
    ) {
        self.ident = ident
        self.filter = filter
        self.flags = flags
        self.fflags = fflags
        self.data = data
        self.udata = udata
    }
}

extension KEvent: CustomStringConvertible {
    /// Every field, by name: `KEvent(ident: 1, filter: .timer, flags: [.add], …)`.
    public var description: String {
        "KEvent(ident: \(ident), filter: \(filter), flags: \(flags), fflags: \(fflags), data: \(data), udata: \(udata))"
    }
}
