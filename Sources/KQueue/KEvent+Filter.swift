extension KEvent {
    /// The kernel filter that processes an event: what kind of source ``KEvent/ident`` names.
    ///
    /// The raw values are the platform's `EVFILT_*` constants, which differ between macOS and
    /// the BSDs; compare filters by name, never by number.
    public struct Filter: RawRepresentable, Sendable, Hashable {
        /// The platform's `EVFILT_*` constant, as the C field holds it.
        public var rawValue: Int16

        /// Creates a value from the platform's `EVFILT_*` constant, e.g. one the kernel returned.
        ///
        /// - Parameter rawValue: the C value; its meaning depends on the platform.
        public init(rawValue: Int16) {
            self.rawValue = rawValue
        }

        /// A descriptor is readable. The corresponding C constant is `EVFILT_READ`.
        public static let read = Filter(rawValue: _EVFILT_READ)

        /// A descriptor is writable. The corresponding C constant is `EVFILT_WRITE`.
        public static let write = Filter(rawValue: _EVFILT_WRITE)

        /// A file system object changed: `ident` is an open descriptor of a file or directory,
        /// `fflags` the changes to watch for (``FilterFlags/delete``, ``FilterFlags/write`` …),
        /// and the returned `fflags` those that happened. The corresponding C constant is
        /// `EVFILT_VNODE`.
        public static let vnode = Filter(rawValue: _EVFILT_VNODE)

        /// A process changed state, e.g. exited. The corresponding C constant is `EVFILT_PROC`.
        public static let proc = Filter(rawValue: _EVFILT_PROC)

        /// A signal was delivered to the process. The corresponding C constant is `EVFILT_SIGNAL`.
        public static let signal = Filter(rawValue: _EVFILT_SIGNAL)

        /// A timer expired. The corresponding C constant is `EVFILT_TIMER`.
        public static let timer = Filter(rawValue: _EVFILT_TIMER)

        /// A user event, triggered through the queue itself. The corresponding C constant is
        /// `EVFILT_USER`.
        public static let user = Filter(rawValue: _EVFILT_USER)
    }
}

extension KEvent.Filter: CustomStringConvertible {
    /// The filter's Swift name, such as `.timer`, or its raw value when it has no name here.
    public var description: String {
        switch self {
        case .read: ".read"
        case .write: ".write"
        case .vnode: ".vnode"
        case .proc: ".proc"
        case .signal: ".signal"
        case .timer: ".timer"
        case .user: ".user"
        default: "Filter(rawValue: \(rawValue))"
        }
    }
}

extension KEvent.Filter {
    /// The C spelling of ``read``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "read")
    public static var EVFILT_READ: Self { .read }
    /// The C spelling of ``write``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "write")
    public static var EVFILT_WRITE: Self { .write }
    /// The C spelling of ``vnode``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "vnode")
    public static var EVFILT_VNODE: Self { .vnode }
    /// The C spelling of ``proc``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "proc")
    public static var EVFILT_PROC: Self { .proc }
    /// The C spelling of ``signal``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "signal")
    public static var EVFILT_SIGNAL: Self { .signal }
    /// The C spelling of ``timer``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "timer")
    public static var EVFILT_TIMER: Self { .timer }
    /// The C spelling of ``user``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "user")
    public static var EVFILT_USER: Self { .user }
}
