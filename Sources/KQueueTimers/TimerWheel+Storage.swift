extension TimerWheel {
    /// Allocates the slot lists of `levelCount` levels, all empty.
    @usableFromInline
    static func allocateSlots(levelCount: Int) -> (
        heads: UnsafeMutablePointer<UInt32>, occupiedSlots: UnsafeMutablePointer<UInt64>
    ) {
        let listCount = levelCount * slotsPerLevel * listsPerSlot
        let heads = UnsafeMutablePointer<UInt32>.allocate(capacity: listCount)
        heads.initialize(repeating: nilIndex, count: listCount)
        let occupiedSlots = UnsafeMutablePointer<UInt64>.allocate(capacity: levelCount)
        occupiedSlots.initialize(repeating: 0, count: levelCount)
        return (heads, occupiedSlots)
    }

    /// Takes the lowest free entry, growing the slab if none is left.
    @inlinable @inline(__always)
    mutating func takeFreeEntry() -> Int {
        if let index = free.removeLowest() { return index }
        grow(toAtLeast: slabCapacity + 1)
        guard let index = free.removeLowest() else {
            preconditionFailure("TimerWheel: no free entry after growing")
        }
        return index
    }

    /// Moves the slab to a larger allocation of at least `minimumCapacity`
    /// entries, at least doubling it; the new entries are free.
    @usableFromInline
    mutating func grow(toAtLeast minimumCapacity: Int) {
        let limit = Int(Self.nilIndex) - 1
        precondition(minimumCapacity <= limit, "TimerWheel: cannot hold more than \(limit) timers")
        let doubled = Swift.min(Swift.max(slabCapacity * 2, 16), limit)
        resize(to: Swift.max(minimumCapacity, doubled))
    }

    /// Moves the slab to an allocation of exactly `newCapacity` entries (at least
    /// the current capacity); the new entries are free.
    @usableFromInline
    mutating func resize(to newCapacity: Int) {
        precondition(newCapacity >= slabCapacity, "TimerWheel: the slab cannot shrink")
        let newEntries = UnsafeMutablePointer<Entry>.allocate(capacity: newCapacity)
        newEntries.moveInitialize(from: entries, count: slabCapacity)
        (newEntries + slabCapacity).initialize(repeating: Entry(), count: newCapacity - slabCapacity)
        let newFree = SlabFreeSet.allocate(capacity: newCapacity)
        newFree.copyBits(from: free)
        newFree.insertWithoutSummaries(slabCapacity..<newCapacity)
        newFree.rebuildSummaries()
        entries.deallocate()
        free.deallocate()
        entries = newEntries
        free = newFree
        slabCapacity = newCapacity
    }
}
