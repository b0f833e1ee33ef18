extension KEvent {
    /// Actions on input and state on output (`EV_*`).
    public struct Flags: OptionSet, Sendable, Hashable {
        /// The platform's `EV_*` bits, as the C field holds them.
        public var rawValue: UInt16

        /// Creates a value from the platform's `EV_*` bits.
        ///
        /// - Parameter rawValue: the C value; its meaning depends on the platform.
        public init(rawValue: UInt16) {
            self.rawValue = rawValue
        }

        /// Adds the event, or modifies it if it exists. The corresponding C constant is `EV_ADD`.
        public static let add = Flags(rawValue: _EV_ADD)

        /// Removes the event. The corresponding C constant is `EV_DELETE`.
        public static let delete = Flags(rawValue: _EV_DELETE)

        /// Lets the queue return the event. The corresponding C constant is `EV_ENABLE`.
        public static let enable = Flags(rawValue: _EV_ENABLE)

        /// Stops the queue from returning the event; the source keeps recording.
        /// The corresponding C constant is `EV_DISABLE`.
        public static let disable = Flags(rawValue: _EV_DISABLE)

        /// Returns the first occurrence, then deletes the event.
        /// The corresponding C constant is `EV_ONESHOT`.
        public static let oneshot = Flags(rawValue: _EV_ONESHOT)

        /// Resets the event's state after it is returned (edge-triggered).
        /// The corresponding C constant is `EV_CLEAR`.
        public static let clear = Flags(rawValue: _EV_CLEAR)

        /// Reports the outcome of a change as an ``error`` entry, even on success
        /// (`data` 0). The corresponding C constant is `EV_RECEIPT`.
        public static let receipt = Flags(rawValue: _EV_RECEIPT)

        /// Disables the event right after it is returned.
        /// The corresponding C constant is `EV_DISPATCH`.
        public static let dispatch = Flags(rawValue: _EV_DISPATCH)

        /// Output: the source reached its end (hang-up, process exit).
        /// The corresponding C constant is `EV_EOF`.
        public static let eof = Flags(rawValue: _EV_EOF)

        /// Output: this entry reports the outcome of a change; `data` holds the errno
        /// (0 for a receipt). The corresponding C constant is `EV_ERROR`.
        public static let error = Flags(rawValue: _EV_ERROR)

        /// The output-only bits a change may not set; they are ignored on input.
        /// The corresponding C constant is `EV_SYSFLAGS`.
        public static let system = Flags(rawValue: _EV_SYSFLAGS)
    }
}

extension KEvent.Flags: CustomStringConvertible {
    /// The flags by their Swift names, such as `[.add, .oneshot]`; unknown bits in hex.
    public var description: String {
        describeOptions(
            rawValue,
            [
                (Self.add.rawValue, ".add"), (Self.delete.rawValue, ".delete"),
                (Self.enable.rawValue, ".enable"), (Self.disable.rawValue, ".disable"),
                (Self.oneshot.rawValue, ".oneshot"), (Self.clear.rawValue, ".clear"),
                (Self.receipt.rawValue, ".receipt"), (Self.dispatch.rawValue, ".dispatch"),
                (Self.eof.rawValue, ".eof"), (Self.error.rawValue, ".error"),
            ]
        )
    }
}

extension KEvent.Flags {
    /// The C spelling of ``add``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "add")
    public static var EV_ADD: Self { .add }
    /// The C spelling of ``delete``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "delete")
    public static var EV_DELETE: Self { .delete }
    /// The C spelling of ``enable``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "enable")
    public static var EV_ENABLE: Self { .enable }
    /// The C spelling of ``disable``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "disable")
    public static var EV_DISABLE: Self { .disable }
    /// The C spelling of ``oneshot``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "oneshot")
    public static var EV_ONESHOT: Self { .oneshot }
    /// The C spelling of ``clear``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "clear")
    public static var EV_CLEAR: Self { .clear }
    /// The C spelling of ``receipt``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "receipt")
    public static var EV_RECEIPT: Self { .receipt }
    /// The C spelling of ``dispatch``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "dispatch")
    public static var EV_DISPATCH: Self { .dispatch }
    /// The C spelling of ``eof``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "eof")
    public static var EV_EOF: Self { .eof }
    /// The C spelling of ``error``, unavailable: use the Swift name.
    @available(*, unavailable, renamed: "error")
    public static var EV_ERROR: Self { .error }
}

/// Renders an option set as `[.a, .b, 0x40]`: known bits by name, the rest in hex.
func describeOptions<Raw: FixedWidthInteger>(_ raw: Raw, _ names: [(Raw, String)]) -> String {
    var rest = raw
    var parts: [String] = []
    for (bits, name) in names where bits != 0 && raw & bits == bits {
        parts.append(name)
        rest &= ~bits
    }
    if rest != 0 {
        parts.append("0x" + String(rest, radix: 16))
    }
    return "[" + parts.joined(separator: ", ") + "]"
}
