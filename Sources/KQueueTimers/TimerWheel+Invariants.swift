extension TimerWheel {
    /// Whether this build checks the wheel's invariants (debug builds, where
    /// `KQ_INTERNAL_CHECKS` is defined). Checked builds do not keep the stated
    /// complexities.
    package static var _isConsistencyCheckingEnabled: Bool {
        #if KQ_INTERNAL_CHECKS
        return true
        #else
        return false
        #endif
    }

    /// Checks every invariant of the wheel; traps on the first one broken.
    ///
    /// Does real work only when `KQ_INTERNAL_CHECKS` is defined. It checks that:
    /// - the current key is the key of ``now``;
    /// - every pending entry is in the slot its deadline belongs to at the current
    ///   key, and that slot is ahead of the current position on its level;
    /// - each list is a well-formed doubly-linked list of pending entries, each in
    ///   the list of its slot for its index;
    /// - the occupancy bitmaps match the non-empty slots;
    /// - the free set holds exactly the other entries, which have no payload, and
    ///   its summary levels match;
    /// - ``count`` is the number of pending entries.
    ///
    /// Mutations check only what they touched (O(1)); tests call this one.
    ///
    /// - Complexity: O(*n* + 256·*L*) for a slab of *n* entries and *L* levels.
    package func _checkInvariants() {
        #if KQ_INTERNAL_CHECKS
        precondition(currentKey == key(of: _now), "current key is not the key of now")
        var pending = 0
        var expectedLevels: UInt64 = 0
        for level in 0..<levelCount {
            var expectedSlots: UInt64 = 0
            let currentIndex = Int(truncatingIfNeeded: currentKey &>> UInt64(level * Self.slotBits)) & 63
            for index in 0..<Self.slotsPerLevel {
                let slot = level * Self.slotsPerLevel + index
                if isEmpty(slot: slot) { continue }
                expectedSlots |= 1 << UInt64(index)
                precondition(
                    level == 0 ? index >= currentIndex : index > currentIndex,
                    "slot \(slot) is occupied but behind the current position"
                )
                for list in 0..<Self.listsPerSlot {
                    pending += checkList(slot: slot, list: list)
                }
            }
            precondition(
                occupiedSlots[level] == expectedSlots,
                "level \(level) bitmap does not match its slots"
            )
            if expectedSlots != 0 { expectedLevels |= 1 << UInt64(level) }
        }
        precondition(occupiedLevels == expectedLevels, "level bitmap does not match the levels")
        precondition(pending == _count, "count \(_count) but \(pending) pending entries")

        var freeCount = 0
        for index in 0..<slabCapacity where !entries[index].isPending {
            precondition(entries[index].payload == nil, "free entry \(index) keeps a payload")
            precondition(free.contains(index), "free entry \(index) is not in the free set")
            freeCount += 1
        }
        precondition(pending + freeCount == slabCapacity, "entries are neither pending nor free")
        free.checkSummaries()
        #endif
    }

    /// Checks one list of a slot and returns its length.
    func checkList(slot: Int, list: Int) -> Int {
        var length = 0
        #if KQ_INTERNAL_CHECKS
        var previous = Self.nilIndex
        var entry = heads[slot * Self.listsPerSlot + list]
        while entry != Self.nilIndex {
            precondition(Int(entry) < slabCapacity, "slot \(slot) links to a missing entry")
            let current = entries[Int(entry)]
            precondition(current.isPending, "slot \(slot) links to a free entry")
            precondition(current.payload != nil, "pending entry \(entry) has no payload")
            precondition(!free.contains(Int(entry)), "pending entry \(entry) is in the free set")
            precondition(Int(entry) % Self.listsPerSlot == list, "entry \(entry) is in list \(list)")
            precondition(Int(current.slot) == slot, "entry \(entry) names slot \(current.slot), is in \(slot)")
            precondition(current.previous == previous, "entry \(entry) has a wrong back link")
            precondition(
                self.slot(forDeadline: current.deadline) == slot,
                "entry \(entry) with deadline \(current.deadline) is in the wrong slot \(slot)"
            )
            precondition(current.sequence < nextSequence, "entry \(entry) has a future sequence number")
            length += 1
            precondition(length <= slabCapacity, "slot \(slot) list \(list) has a cycle")
            previous = entry
            entry = current.next
        }
        #endif
        return length
    }

    /// Checks the entry just scheduled or moved, in O(1), in checked builds.
    @inlinable
    func _checkEntry(_ index: Int) {
        #if KQ_INTERNAL_CHECKS
        let entry = entries[index]
        precondition(entry.isPending && entry.payload != nil, "entry \(index) is not pending")
        precondition(!free.contains(index), "pending entry \(index) is in the free set")
        precondition(Int(entry.slot) == slot(forDeadline: entry.deadline), "entry \(index) is in the wrong slot")
        if entry.previous == Self.nilIndex {
            let list = Self.list(slot: Int(entry.slot), index: index)
            precondition(heads[list] == UInt32(index), "entry \(index) is not its list's head")
        } else {
            precondition(entries[Int(entry.previous)].next == UInt32(index), "entry \(index) back link is wrong")
        }
        if entry.next != Self.nilIndex {
            precondition(entries[Int(entry.next)].previous == UInt32(index), "entry \(index) next link is wrong")
        }
        let level = Int(entry.slot) >> Self.slotBits
        let marked = occupiedSlots[level] & (1 << UInt64(entry.slot & 63)) != 0
        precondition(marked, "slot of entry \(index) is not marked occupied")
        precondition(occupiedLevels & (1 << UInt64(level)) != 0, "level of entry \(index) is not marked occupied")
        #endif
    }

    /// Checks an entry just freed, in O(1), in checked builds.
    @inlinable
    func _checkReleased(_ index: Int) {
        #if KQ_INTERNAL_CHECKS
        precondition(!entries[index].isPending, "released entry \(index) is still pending")
        precondition(entries[index].payload == nil, "released entry \(index) keeps its payload")
        precondition(free.contains(index), "released entry \(index) is not in the free set")
        #endif
    }

    /// Checks the position and the level bitmap after an advance, in O(*L*), in
    /// checked builds.
    @inlinable
    func _checkAfterAdvance() {
        #if KQ_INTERNAL_CHECKS
        precondition(currentKey == key(of: _now), "current key is not the key of now")
        for level in 0..<levelCount {
            let marked = occupiedLevels & (1 << UInt64(level)) != 0
            precondition(marked == (occupiedSlots[level] != 0), "level \(level) bitmap is stale")
        }
        #endif
    }
}

// MARK: - Clear-box hooks for tests

extension TimerWheel {
    /// The number of levels of this wheel.
    package var _levelCount: Int { levelCount }

    /// The bytes of one entry of the slab: the memory per timer, but for 1/8 byte
    /// of free set.
    package static var _bytesPerEntry: Int { MemoryLayout<Entry>.stride }

    /// The level holding a pending timer, or `nil` if the identifier is stale.
    package func _level(of id: TimerID) -> Int? {
        guard let index = pendingIndex(of: id) else { return nil }
        return Int(entries[index].slot) >> Self.slotBits
    }
}
