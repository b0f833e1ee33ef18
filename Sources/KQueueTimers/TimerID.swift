/// The identity of one timer scheduled in a ``TimerWheel``.
///
/// An identifier names an entry of the wheel's slab (``index``) and the
/// generation of that entry (``generation``). The wheel bumps the generation
/// each time a timer fires or is cancelled, so an identifier kept after its
/// timer is gone is *stale*: it never matches the timer that later reuses the
/// entry, and the wheel ignores it (``TimerWheel/cancel(_:)`` returns `nil`).
///
/// An identifier is meaningful only to the wheel that returned it. A
/// generation wraps around after 2³² reuses of the same entry; only an
/// identifier kept across that many reuses could match again.
public struct TimerID: Hashable, Sendable {
    /// The position of the timer's entry in the wheel's slab.
    public let index: UInt32

    /// The generation of the entry when the timer was scheduled.
    public let generation: UInt32

    /// Creates an identifier from its parts.
    ///
    /// The wheel makes identifiers; tests use this to forge stale or foreign ones.
    @inlinable
    package init(index: UInt32, generation: UInt32) {
        self.index = index
        self.generation = generation
    }
}

extension TimerID: CustomStringConvertible {
    /// A textual form such as `TimerID(12#3)`: index 12, generation 3.
    public var description: String {
        "TimerID(\(index)#\(generation))"
    }
}
