extension TimerWheel {
    /// The heap memory of a wheel, shared copy-on-write between copies of it.
    ///
    /// Every buffer has a fixed size, set when the storage is made, so its fields are
    /// constants and the wheel reaches them through plain pointers. All `capacity`
    /// entries are initialized: the ones not pending are free, without payload, and
    /// listed in `free`. The wheel grows by moving to a larger storage.
    @usableFromInline
    final class Storage {
        /// The number of entries.
        @usableFromInline let capacity: Int

        /// The slab: `capacity` entries, pending or free.
        @usableFromInline let entries: UnsafeMutablePointer<Entry>

        /// The number of slot lists: 64 per level.
        @usableFromInline let slotCount: Int

        /// The first entry of each slot list, or `nilIndex`.
        @usableFromInline let heads: UnsafeMutablePointer<UInt32>

        /// Per level, bit *i* is set when slot *i* of that level is not empty.
        @usableFromInline let occupiedSlots: UnsafeMutablePointer<UInt64>

        /// The free entries.
        @usableFromInline let free: SlabFreeSet

        /// Creates a storage of `capacity` free entries and empty slot lists.
        @usableFromInline
        init(capacity: Int, levelCount: Int) {
            precondition(capacity < Int(TimerWheel.nilIndex), "TimerWheel: too many pending timers")
            self.capacity = capacity
            self.slotCount = levelCount * TimerWheel.slotsPerLevel
            self.entries = .allocate(capacity: capacity)
            self.entries.initialize(repeating: Entry(), count: capacity)
            self.heads = .allocate(capacity: slotCount)
            self.heads.initialize(repeating: TimerWheel.nilIndex, count: slotCount)
            self.occupiedSlots = .allocate(capacity: levelCount)
            self.occupiedSlots.initialize(repeating: 0, count: levelCount)
            self.free = .allocate(capacity: capacity)
            self.free.insertWithoutSummaries(0..<capacity)
            self.free.rebuildSummaries()
        }

        /// Creates a copy of `other` with room for at least as many entries; the
        /// entries past `other.capacity` are free.
        @usableFromInline
        init(copying other: Storage, capacity: Int) {
            precondition(capacity < Int(TimerWheel.nilIndex), "TimerWheel: too many pending timers")
            precondition(capacity >= other.capacity, "TimerWheel storage cannot shrink")
            self.capacity = capacity
            self.slotCount = other.slotCount
            self.entries = .allocate(capacity: capacity)
            self.entries.initialize(from: other.entries, count: other.capacity)
            (self.entries + other.capacity).initialize(repeating: Entry(), count: capacity - other.capacity)
            self.heads = .allocate(capacity: slotCount)
            self.heads.initialize(from: other.heads, count: slotCount)
            let levelCount = slotCount / TimerWheel.slotsPerLevel
            self.occupiedSlots = .allocate(capacity: levelCount)
            self.occupiedSlots.initialize(from: other.occupiedSlots, count: levelCount)
            self.free = .allocate(capacity: capacity)
            self.free.insertWithoutSummaries(other.capacity..<capacity)
            for word in 0..<(other.capacity + 63) / 64 {
                self.free.words[word] |= other.free.words[word]
            }
            self.free.rebuildSummaries()
        }

        deinit {
            entries.deinitialize(count: capacity)
            entries.deallocate()
            heads.deallocate()
            occupiedSlots.deallocate()
            free.deallocate()
        }
    }

    /// Makes the storage unique to this wheel before a mutation.
    @inlinable
    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) {
            storage = Storage(copying: storage, capacity: storage.capacity)
        }
    }

    /// Takes a free entry, growing the slab if none is left.
    @inlinable
    mutating func takeFreeEntry() -> Int {
        if let index = storage.free.removeLowest() { return index }
        grow(toAtLeast: storage.capacity + 1)
        guard let index = storage.free.removeLowest() else {
            preconditionFailure("TimerWheel: no free entry after growing")
        }
        return index
    }

    /// Moves to a storage of at least `minimumCapacity` entries, doubling at least.
    @usableFromInline
    mutating func grow(toAtLeast minimumCapacity: Int) {
        let limit = Int(Self.nilIndex) - 1
        precondition(minimumCapacity <= limit, "TimerWheel: too many pending timers")
        let doubled = Swift.min(Swift.max(storage.capacity * 2, 16), limit)
        storage = Storage(copying: storage, capacity: Swift.max(minimumCapacity, doubled))
    }
}
