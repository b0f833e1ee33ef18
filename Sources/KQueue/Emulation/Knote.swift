#if os(Linux) && !KQUEUE_LIBKQUEUE

/// A registered event: the state the kernel keeps per (ident, filter) pair.
///
/// The generic part (flag word, udata, enabled, queued) is handled by ``EmulatedQueue``;
/// the filter part (`sfflags`, `sdata`, `isActive` and the fields below them) belongs to the
/// filter named by `filter` (``TimerFilter``, ``UserFilter``, ``DescriptorFilter``,
/// ``SignalFilter``, ``ProcessFilter``, ``VnodeFilter``).
struct Knote {
    // The fields are ordered so that the small ones share words: 88 bytes a knote.
    var ident: UInt
    var udata: UInt
    var filter: KEvent.Filter
    /// The flag word, fixed at creation (a later EV_ADD does not change it), plus the bits
    /// the filter adds (EV_CLEAR for timers).
    var flags: KEvent.Flags
    var isEnabled: Bool
    /// On the ready queue, waiting to be returned.
    var isQueued = false
    /// Filter state: whether the event's condition holds (a user event is triggered, a
    /// timer has expirations to report).
    var isActive = false
    /// Descriptor: the end of file was reached (EV_EOF).
    var isEOF = false

    /// Saved filter flags: a timer's unit bits, a user event's 24 user flags, the changes a
    /// vnode knote asks for.
    var sfflags: UInt32 = 0
    /// Descriptor: the `fflags` to report with EV_EOF (the socket error). Process and vnode: the
    /// events recorded (NOTE_EXIT; NOTE_WRITE …), only those the knote asked for when they happened.
    var eventFFlags: UInt32 = 0
    /// Saved data: a timer's period or deadline as given, a user event's data, a descriptor's
    /// low-water mark.
    var sdata = 0
    /// Descriptor: the `data` of the last evaluation (bytes readable, free space, pending
    /// connections).
    var eventData = 0
    /// Descriptor: the ``QueueState/pass`` of the last evaluation, so a knote is evaluated
    /// at most once per pass.
    var evaluatedPass: UInt32 = 0
    /// Process: the pidfd the knote owns. Vnode, and a regular file's read knote: its inotify
    /// watch descriptor (``FileWatch``). -1 for none.
    var source: CInt = -1

    /// Timer: the next expiration on CLOCK_MONOTONIC, in nanoseconds.
    var deadline: Int64 = 0
    /// Timer: nanoseconds between expirations; 0 for a timer that fires once.
    var period: Int64 = 0
    /// Timer: expirations not yet returned. Signal: deliveries not yet returned.
    var expirations = 0

    /// Ready-queue links (indices into the knote table), -1 for none.
    var previous: Int32 = -1
    var next: Int32 = -1

    init(ident: UInt, filter: KEvent.Filter, flags: KEvent.Flags, udata: UInt, isEnabled: Bool) {
        self.ident = ident
        self.filter = filter
        self.flags = flags
        self.udata = udata
        self.isEnabled = isEnabled
    }
}
#endif
