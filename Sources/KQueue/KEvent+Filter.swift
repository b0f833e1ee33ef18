extension KEvent {
    /// The kernel filter that processes an event: what kind of source ``KEvent/ident`` names.
    ///
    /// The raw values are the platform's `EVFILT_*` constants, which differ between macOS and
    /// the BSDs; compare filters by name, never by number.
    public struct Filter: RawRepresentable, Sendable, Hashable {
        public var rawValue: Int16

        public init(rawValue: Int16) {
            self.rawValue = rawValue
        }

        /// A descriptor is readable. The corresponding C constant is `EVFILT_READ`.
        public static let read = Filter(rawValue: _EVFILT_READ)

        /// A descriptor is writable. The corresponding C constant is `EVFILT_WRITE`.
        public static let write = Filter(rawValue: _EVFILT_WRITE)

        /// A file system object changed. The corresponding C constant is `EVFILT_VNODE`.
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
    @available(*, unavailable, renamed: "read")
    public static var EVFILT_READ: Self { .read }
    @available(*, unavailable, renamed: "write")
    public static var EVFILT_WRITE: Self { .write }
    @available(*, unavailable, renamed: "proc")
    public static var EVFILT_PROC: Self { .proc }
    @available(*, unavailable, renamed: "signal")
    public static var EVFILT_SIGNAL: Self { .signal }
    @available(*, unavailable, renamed: "timer")
    public static var EVFILT_TIMER: Self { .timer }
    @available(*, unavailable, renamed: "user")
    public static var EVFILT_USER: Self { .user }
}
