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
    /// - each slot list is a well-formed doubly-linked list of pending entries;
    /// - the occupancy bitmaps match the non-empty slots;
    /// - the free set holds exactly the other entries, which have no payload, and
    ///   its summary levels match;
    /// - ``count`` is the number of pending entries.
    ///
    /// Mutations check only what they touched (O(1)); tests call this one.
    ///
    /// - Complexity: O(*n* + *L*·64) for a slab of *n* entries and *L* levels.
    package func _checkInvariants() {
        #if KQ_INTERNAL_CHECKS
        precondition(currentKey == key(of: _now), "current key is not the key of now")
        precondition(storage.slotCount == levelCount * Self.slotsPerLevel, "wrong number of slot lists")
        let entries = storage.entries
        var pending = 0
        var expectedLevels: UInt64 = 0
        for level in 0..<levelCount {
            var expectedSlots: UInt64 = 0
            let currentIndex = Int(truncatingIfNeeded: currentKey &>> UInt64(level * Self.slotBits)) & 63
            for index in 0..<Self.slotsPerLevel {
                let slot = level * Self.slotsPerLevel + index
                var previous = Self.nilIndex
                var entry = storage.heads[slot]
                if entry != Self.nilIndex {
                    expectedSlots |= 1 << UInt64(index)
                    precondition(
                        level == 0 ? index >= currentIndex : index > currentIndex,
                        "slot \(slot) is occupied but behind the current position"
                    )
                }
                var length = 0
                while entry != Self.nilIndex {
                    precondition(Int(entry) < storage.capacity, "slot \(slot) links to a missing entry")
                    let current = entries[Int(entry)]
                    precondition(current.isPending, "slot \(slot) links to a free entry")
                    precondition(current.payload != nil, "pending entry \(entry) has no payload")
                    precondition(!storage.free.contains(Int(entry)), "pending entry \(entry) is in the free set")
                    precondition(Int(current.slot) == slot, "entry \(entry) names slot \(current.slot), is in \(slot)")
                    precondition(current.previous == previous, "entry \(entry) has a wrong back link")
                    precondition(
                        self.slot(forDeadline: current.deadline) == slot,
                        "entry \(entry) with deadline \(current.deadline) is in the wrong slot \(slot)"
                    )
                    precondition(current.sequence < nextSequence, "entry \(entry) has a future sequence number")
                    length += 1
                    precondition(length <= storage.capacity, "slot \(slot) list has a cycle")
                    previous = entry
                    entry = current.next
                }
                pending += length
            }
            precondition(
                storage.occupiedSlots[level] == expectedSlots,
                "level \(level) bitmap does not match its slots"
            )
            if expectedSlots != 0 { expectedLevels |= 1 << UInt64(level) }
        }
        precondition(occupiedLevels == expectedLevels, "level bitmap does not match the levels")
        precondition(pending == _count, "count \(_count) but \(pending) pending entries")

        var free = 0
        for index in 0..<storage.capacity where !entries[index].isPending {
            precondition(entries[index].payload == nil, "free entry \(index) keeps a payload")
            precondition(storage.free.contains(index), "free entry \(index) is not in the free set")
            free += 1
        }
        precondition(pending + free == storage.capacity, "entries are neither pending nor free")
        storage.free.checkSummaries()
        #endif
    }

    /// Checks the entry just scheduled or moved, in O(1), in checked builds.
    @inlinable
    func _checkEntry(_ index: Int) {
        #if KQ_INTERNAL_CHECKS
        let entries = storage.entries
        let entry = entries[index]
        precondition(entry.isPending && entry.payload != nil, "entry \(index) is not pending")
        precondition(!storage.free.contains(index), "pending entry \(index) is in the free set")
        precondition(Int(entry.slot) == slot(forDeadline: entry.deadline), "entry \(index) is in the wrong slot")
        if entry.previous == Self.nilIndex {
            precondition(storage.heads[Int(entry.slot)] == UInt32(index), "entry \(index) is not its slot's head")
        } else {
            precondition(entries[Int(entry.previous)].next == UInt32(index), "entry \(index) back link is wrong")
        }
        if entry.next != Self.nilIndex {
            precondition(entries[Int(entry.next)].previous == UInt32(index), "entry \(index) next link is wrong")
        }
        let level = Int(entry.slot) >> Self.slotBits
        let marked = storage.occupiedSlots[level] & (1 << UInt64(entry.slot & 63)) != 0
        precondition(marked, "slot of entry \(index) is not marked occupied")
        precondition(occupiedLevels & (1 << UInt64(level)) != 0, "level of entry \(index) is not marked occupied")
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
            precondition(marked == (storage.occupiedSlots[level] != 0), "level \(level) bitmap is stale")
        }
        #endif
    }
}

// MARK: - Clear-box hooks for tests

extension TimerWheel {
    /// The number of levels of this wheel.
    package var _levelCount: Int { levelCount }

    /// The level holding a pending timer, or `nil` if the identifier is stale.
    package func _level(of id: TimerID) -> Int? {
        guard let index = pendingIndex(of: id) else { return nil }
        return Int(storage.entries[index].slot) >> Self.slotBits
    }
}
