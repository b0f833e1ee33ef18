extension TimerWheel {
    /// One entry of the wheel's slab: a pending timer, or a free entry.
    ///
    /// A pending entry is a node of an intrusive doubly-linked list of its wheel
    /// slot (`next`, `previous`, and `slot` to find the list head in O(1)). A free
    /// entry has `slot == Entry.freeSlot` and no payload; the wheel's free set
    /// lists it.
    ///
    /// Layout on 64-bit platforms: the optional payload comes first, so the small
    /// fields fill the padding after it (Swift lays out a generic struct in
    /// declaration order): 40 bytes per entry for an `Int` or a class reference,
    /// 48 for a closure, or for a 17-byte enum of a closure and a reference.
    @usableFromInline
    struct Entry {
        /// The owner's value, `nil` while the entry is free.
        @usableFromInline var payload: Payload?

        /// The wheel slot (`level * 64 + index`) holding the entry, or `freeSlot`.
        @usableFromInline var slot: UInt16

        /// Bumped each time the entry is freed, so old identifiers go stale.
        @usableFromInline var generation: UInt32

        /// The next entry of the list, or `nilIndex`.
        @usableFromInline var next: UInt32

        /// The previous entry of the list, or `nilIndex` at the head.
        @usableFromInline var previous: UInt32

        /// The instant the timer is due, in nanoseconds.
        @usableFromInline var deadline: Int64

        /// The order of scheduling, to fire equal deadlines first-in first-out.
        @usableFromInline var sequence: UInt64

        /// A free entry.
        @inlinable
        init() {
            self.payload = nil
            self.slot = Entry.freeSlot
            self.generation = 0
            self.next = TimerWheel.nilIndex
            self.previous = TimerWheel.nilIndex
            self.deadline = 0
            self.sequence = 0
        }

        /// The `slot` value of a free entry.
        @inlinable
        static var freeSlot: UInt16 { .max }

        /// Whether the entry holds a pending timer.
        @inlinable
        var isPending: Bool { slot != Entry.freeSlot }
    }

    /// The sort key of a timer that is due: deadline first, then scheduling order.
    @usableFromInline
    struct Due: Comparable {
        @usableFromInline var deadline: Int64
        @usableFromInline var sequence: UInt64
        @usableFromInline var index: UInt32

        @inlinable
        init(deadline: Int64, sequence: UInt64, index: UInt32) {
            self.deadline = deadline
            self.sequence = sequence
            self.index = index
        }

        @inlinable
        static func < (lhs: Due, rhs: Due) -> Bool {
            (lhs.deadline, lhs.sequence) < (rhs.deadline, rhs.sequence)
        }
    }
}
