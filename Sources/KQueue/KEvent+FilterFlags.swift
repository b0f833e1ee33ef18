extension KEvent {
    /// Filter-specific flags (`NOTE_*`).
    ///
    /// The raw values differ between macOS and the BSDs (e.g. `NOTE_USECONDS` is 0x2 on macOS
    /// and 0x4 on FreeBSD); use the names.
    public struct FilterFlags: OptionSet, Sendable, Hashable {
        /// The platform's `NOTE_*` bits, as the C field holds them.
        public var rawValue: UInt32

        /// Creates a value from the platform's `NOTE_*` bits.
        ///
        /// - Parameter rawValue: the C value; its meaning depends on the platform.
        public init(rawValue: UInt32) {
            self.rawValue = rawValue
        }

        // MARK: Timers (EVFILT_TIMER). Without a unit, `data` is in milliseconds.

        /// `data` is in seconds. The corresponding C constant is `NOTE_SECONDS`.
        public static let seconds = FilterFlags(rawValue: _NOTE_SECONDS)

        /// `data` is in microseconds. The corresponding C constant is `NOTE_USECONDS`.
        public static let useconds = FilterFlags(rawValue: _NOTE_USECONDS)

        /// `data` is in nanoseconds. The corresponding C constant is `NOTE_NSECONDS`.
        public static let nseconds = FilterFlags(rawValue: _NOTE_NSECONDS)

        /// `data` is an absolute deadline, measured from the Unix epoch; the timer fires once.
        /// The corresponding C constant is `NOTE_ABSOLUTE` on macOS and `NOTE_ABSTIME` on the BSDs.
        public static let absolute = FilterFlags(rawValue: _NOTE_ABSOLUTE)

        // MARK: User events (EVFILT_USER)

        /// Triggers the user event. The corresponding C constant is `NOTE_TRIGGER`.
        public static let trigger = FilterFlags(rawValue: _NOTE_TRIGGER)

        /// Leaves the stored user flags unchanged. Its value is zero, so every set contains it.
        /// The corresponding C constant is `NOTE_FFNOP`.
        public static let ffnop = FilterFlags(rawValue: _NOTE_FFNOP)

        /// ANDs the low 24 bits into the stored user flags. The corresponding C constant is
        /// `NOTE_FFAND`.
        public static let ffand = FilterFlags(rawValue: _NOTE_FFAND)

        /// ORs the low 24 bits into the stored user flags. The corresponding C constant is
        /// `NOTE_FFOR`.
        public static let ffor = FilterFlags(rawValue: _NOTE_FFOR)

        /// Replaces the stored user flags with the low 24 bits. The corresponding C constant is
        /// `NOTE_FFCOPY`.
        public static let ffcopy = FilterFlags(rawValue: _NOTE_FFCOPY)

        /// The control bits that select ``ffnop``, ``ffand``, ``ffor`` or ``ffcopy``.
        /// The corresponding C constant is `NOTE_FFCTRLMASK`.
        public static let ffctrlmask = FilterFlags(rawValue: _NOTE_FFCTRLMASK)

        /// The 24 bits of user-defined flags. The corresponding C constant is `NOTE_FFLAGSMASK`.
        public static let fflagsmask = FilterFlags(rawValue: _NOTE_FFLAGSMASK)

        // MARK: Descriptors and processes

        /// `data` holds a low-water mark for read and write filters.
        /// The corresponding C constant is `NOTE_LOWAT`.
        public static let lowat = FilterFlags(rawValue: _NOTE_LOWAT)

        /// The process exited. The corresponding C constant is `NOTE_EXIT`.
        public static let exit = FilterFlags(rawValue: _NOTE_EXIT)

        /// With ``exit``: report the process's wait(2) status in `data` (macOS reports 0
        /// without it). The corresponding C constant is `NOTE_EXITSTATUS`; the BSDs always
        /// report the status and have no such flag, so there its value is 0.
        public static let exitStatus = FilterFlags(rawValue: _NOTE_EXITSTATUS)

        // MARK: File system objects (EVFILT_VNODE): asked for on input, what happened on output

        /// The file was deleted: its last name was removed (unlink(2), rmdir(2), or a rename
        /// over it). On Linux a directory removed while it is open is not reported (inotify
        /// tells nothing until its last descriptor is closed). The corresponding C constant is
        /// `NOTE_DELETE`.
        public static let delete = FilterFlags(rawValue: _NOTE_DELETE)

        /// The file's contents changed (for a directory: an entry was added, removed or renamed).
        /// The corresponding C constant is `NOTE_WRITE`.
        public static let write = FilterFlags(rawValue: _NOTE_WRITE)

        /// The file grew. The corresponding C constant is `NOTE_EXTEND`.
        public static let extend = FilterFlags(rawValue: _NOTE_EXTEND)

        /// The file's attributes changed (chmod, chown, utimes). The corresponding C constant is
        /// `NOTE_ATTRIB`.
        public static let attrib = FilterFlags(rawValue: _NOTE_ATTRIB)

        /// The file's link count changed (for a directory: a subdirectory was created or
        /// removed). The corresponding C constant is `NOTE_LINK`.
        public static let link = FilterFlags(rawValue: _NOTE_LINK)

        /// The file was renamed. The corresponding C constant is `NOTE_RENAME`.
        public static let rename = FilterFlags(rawValue: _NOTE_RENAME)

        /// Access to the file was revoked (revoke(2), or its file system was unmounted).
        /// The corresponding C constant is `NOTE_REVOKE`.
        public static let revoke = FilterFlags(rawValue: _NOTE_REVOKE)
    }
}

extension KEvent.FilterFlags: CustomStringConvertible {
    /// The raw bits in hex, such as `0x4`: their names depend on the filter, so none are given.
    public var description: String {
        "0x" + String(rawValue, radix: 16)
    }
}

extension KEvent.FilterFlags {
    /// The C spelling of ``seconds``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "seconds")
    public static var NOTE_SECONDS: Self { .seconds }
    /// The C spelling of ``useconds``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "useconds")
    public static var NOTE_USECONDS: Self { .useconds }
    /// The C spelling of ``nseconds``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "nseconds")
    public static var NOTE_NSECONDS: Self { .nseconds }
    /// The C spelling of ``absolute``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "absolute")
    public static var NOTE_ABSOLUTE: Self { .absolute }
    /// The C spelling of ``trigger``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "trigger")
    public static var NOTE_TRIGGER: Self { .trigger }
    /// The C spelling of ``ffnop``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "ffnop")
    public static var NOTE_FFNOP: Self { .ffnop }
    /// The C spelling of ``ffand``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "ffand")
    public static var NOTE_FFAND: Self { .ffand }
    /// The C spelling of ``ffor``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "ffor")
    public static var NOTE_FFOR: Self { .ffor }
    /// The C spelling of ``ffcopy``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "ffcopy")
    public static var NOTE_FFCOPY: Self { .ffcopy }
    /// The C spelling of ``lowat``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "lowat")
    public static var NOTE_LOWAT: Self { .lowat }
    /// The C spelling of ``exit``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "exit")
    public static var NOTE_EXIT: Self { .exit }
    /// The C spelling of ``exitStatus``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "exitStatus")
    public static var NOTE_EXITSTATUS: Self { .exitStatus }
    /// The C spelling of ``delete``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "delete")
    public static var NOTE_DELETE: Self { .delete }
    /// The C spelling of ``write``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "write")
    public static var NOTE_WRITE: Self { .write }
    /// The C spelling of ``extend``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "extend")
    public static var NOTE_EXTEND: Self { .extend }
    /// The C spelling of ``attrib``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "attrib")
    public static var NOTE_ATTRIB: Self { .attrib }
    /// The C spelling of ``link``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "link")
    public static var NOTE_LINK: Self { .link }
    /// The C spelling of ``rename``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "rename")
    public static var NOTE_RENAME: Self { .rename }
    /// The C spelling of ``revoke``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "revoke")
    public static var NOTE_REVOKE: Self { .revoke }
}
