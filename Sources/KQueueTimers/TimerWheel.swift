/// A hierarchical timing wheel: many one-shot timers, each scheduled, cancelled
/// and rescheduled in O(1), with the earliest deadline known without a scan.
///
/// The wheel is a pure data structure. It has no clock: time is an `Int64` count
/// of nanoseconds on any monotonic timeline, and the owner passes the current
/// instant to ``advance(to:_:)``. It does no I/O and takes no locks. It has a
/// single owner: it is not copyable (so no mutation pays for a copy-on-write
/// check) and not `Sendable` (its owner confines it to one thread, or to a lock).
///
/// ```swift
/// var wheel = TimerWheel<String>(now: now)
/// let id = wheel.schedule(at: now + 5_000_000, "five milliseconds")
/// wheel.cancel(id)  // "five milliseconds"
/// _ = wheel.schedule(at: now + 1_000_000, "one millisecond")
/// var due: [String] = []
/// wheel.advance(to: now + 2_000_000) { _, _, payload in due.append(payload) }
/// ```
///
/// ## Design
///
/// - **Ticks.** Time is cut into ticks of a power-of-two number of nanoseconds
///   (``tick``, about 1.05 ms by default). A deadline's tick number is a 64-bit
///   key that keeps the order of deadlines over the whole `Int64` range.
/// - **Levels and slots.** Level *k* has 64 slots of 64ᵏ ticks each, and there are
///   enough levels to cover every key (8 levels for the default tick, 11 for a
///   1 ns tick), so any deadline up to `Int64.max` has a place. A timer sits on the
///   lowest level where its key and the current key differ only in that level's
///   six bits or below: level 0 holds the timers of the current 64-tick window, one
///   slot per tick; level 1 the rest of the current 4096-tick window; and so on.
///   Timers whose deadline has passed sit in the current tick's slot.
/// - **Cascade.** When time reaches the first slot of a level above 0, its timers
///   move down to the levels they now belong to, so a timer is relinked at most
///   once per level above 0 in its life (7 times with the default tick).
/// - **Bitmaps.** Each level keeps a 64-bit occupancy bitmap of its non-empty
///   slots, plus one bitmap of non-empty levels. Occupied slots always lie ahead
///   of the current position, so the lowest set bit of the lowest non-empty level
///   is the next slot that matters: ``nextDeadline`` and ``advance(to:_:)`` jump
///   over empty slots, and advancing by years costs no more than by one tick.
/// - **Slab storage.** Timers live in one array of entries (the slab). A slot is
///   four intrusive doubly-linked lists of `UInt32` indices into it, an entry going
///   to list `index % 4`: walking the four lists in step keeps four cache misses in
///   flight, not one, when a slot is cascaded or fired. Free entries are kept in a
///   bitmap tree that hands out the lowest index first, so a reused slab fills in
///   address order. Scheduling allocates nothing once the slab has grown to the
///   peak number of pending timers (see ``reserveCapacity(_:)``).
/// - **Generations.** A ``TimerID`` carries the index of its entry and the entry's
///   generation, which changes whenever the entry is freed. A stale identifier,
///   kept after its timer fired or was cancelled, never cancels, moves or reveals
///   the timer that reuses the entry.
///
/// ## Firing order
///
/// ``advance(to:_:)`` fires exactly the timers whose deadline is at or before the
/// new instant, never one a nanosecond later even within the same tick, in
/// deadline order; equal deadlines fire first-in first-out, in the order they were
/// scheduled (a rescheduled timer counts as scheduled at its reschedule).
///
/// ## Memory
///
/// One entry per timer: a deadline, a sequence number, two list links, a
/// generation, a slot number and the optional payload, that is 48 bytes for an
/// `Int` or a closure payload, 40 for a class reference, plus 1/8 byte for the
/// free set. The list heads and bitmaps take 8 KiB per wheel (11 KiB with a 1 ns
/// tick), whatever the number of timers.
public struct TimerWheel<Payload>: ~Copyable {
    /// The slab: `slabCapacity` entries, pending or free.
    @usableFromInline var entries: UnsafeMutablePointer<Entry>

    /// The number of entries in the slab.
    @usableFromInline var slabCapacity: Int

    /// The free entries of the slab.
    @usableFromInline var free: SlabFreeSet

    /// The first entry of each list, or `nilIndex`: 64 slots per level, 4 lists
    /// per slot, list `slot * 4 + index % 4` holding entry `index`.
    @usableFromInline let heads: UnsafeMutablePointer<UInt32>

    /// Per level, bit *i* is set when slot *i* of that level is not empty.
    @usableFromInline let occupiedSlots: UnsafeMutablePointer<UInt64>

    /// Bit *k* is set when level *k* has a non-empty slot.
    @usableFromInline var occupiedLevels: UInt64

    /// The sequence number for the next schedule or reschedule.
    @usableFromInline var nextSequence: UInt64

    /// The key (tick number) of ``now``; during an advance, of the slot in work.
    @usableFromInline var currentKey: UInt64

    /// log₂ of ``tick``.
    @usableFromInline let tickShift: Int

    /// The number of levels needed to cover every key.
    @usableFromInline let levelCount: Int

    /// The number of pending timers.
    @usableFromInline var _count: Int

    /// The instant of the last advance.
    @usableFromInline var _now: Int64

    /// A buffer reused by ``advance(to:_:)`` to sort the timers due in a slot.
    @usableFromInline var dueBuffer: ContiguousArray<Due>

    /// Creates an empty wheel.
    ///
    /// - Parameters:
    ///   - tick: The width of a level-0 slot in nanoseconds; a power of two.
    ///     The default, 2²⁰ ns, is about 1.05 ms.
    ///   - now: The current instant on the owner's timeline, in nanoseconds.
    /// - Complexity: O(*L*) where *L* ≤ 11 is the number of levels.
    public init(tick: Int64 = 1 << 20, now: Int64 = 0) {
        precondition(
            tick > 0 && tick & (tick - 1) == 0,
            "TimerWheel: the tick must be a positive power of two nanoseconds, got \(tick)"
        )
        let shift = tick.trailingZeroBitCount
        let levelCount = (64 - shift + Self.slotBits - 1) / Self.slotBits
        let slots = Self.allocateSlots(levelCount: levelCount)
        self.entries = .allocate(capacity: 0)
        self.slabCapacity = 0
        self.free = .allocate(capacity: 0)
        self.heads = slots.heads
        self.occupiedSlots = slots.occupiedSlots
        self.occupiedLevels = 0
        self.nextSequence = 0
        self.currentKey = UInt64(bitPattern: now ^ .min) >> UInt64(shift)
        self.tickShift = shift
        self.levelCount = levelCount
        self._count = 0
        self._now = now
        self.dueBuffer = []
    }

    deinit {
        entries.deinitialize(count: slabCapacity)
        entries.deallocate()
        free.deallocate()
        heads.deallocate()
        occupiedSlots.deallocate()
    }
}

@available(*, unavailable)
extension TimerWheel: Sendable {}

// MARK: - Constants and time keys

extension TimerWheel {
    /// The "no entry" index of slot lists.
    @inlinable
    static var nilIndex: UInt32 { .max }

    /// log₂ of the number of slots per level.
    @inlinable
    static var slotBits: Int { 6 }

    /// The number of slots per level.
    @inlinable
    static var slotsPerLevel: Int { 1 << slotBits }

    /// The tick number of an instant, as an unsigned key in the same order.
    ///
    /// Flipping the sign bit maps `Int64.min...Int64.max` onto `0...UInt64.max`
    /// monotonically; the shift then drops the nanoseconds within a tick.
    @inlinable @inline(__always)
    func key(of instant: Int64) -> UInt64 {
        UInt64(bitPattern: instant ^ .min) &>> UInt64(truncatingIfNeeded: tickShift)
    }

    /// The first nanosecond of the tick with the given key.
    @inlinable @inline(__always)
    func instant(ofKey key: UInt64) -> Int64 {
        Int64(bitPattern: key &<< UInt64(truncatingIfNeeded: tickShift)) ^ .min
    }

    /// The wheel slot (`level * 64 + index`) of a key at or after `currentKey`.
    @inlinable @inline(__always)
    func slot(forKey key: UInt64) -> Int {
        // The highest bit where the key differs from the current key picks the level.
        let differing = (key ^ currentKey) | 1
        let level = (63 &- differing.leadingZeroBitCount) / Self.slotBits
        let index = Int(truncatingIfNeeded: key &>> UInt64(truncatingIfNeeded: level &* Self.slotBits)) & 63
        return level &* Self.slotsPerLevel &+ index
    }

    /// The wheel slot where a timer with this deadline belongs now.
    ///
    /// Deadlines in past ticks belong to the current tick's slot, so they fire at
    /// the next advance.
    @inlinable @inline(__always)
    func slot(forDeadline deadline: Int64) -> Int {
        slot(forKey: Swift.max(key(of: deadline), currentKey))
    }

    /// The first key of slot `index` of `level`, in the window of `currentKey`.
    @inlinable @inline(__always)
    func startKey(level: Int, index: Int) -> UInt64 {
        let windowBits = (level &+ 1) &* Self.slotBits
        let window = windowBits >= 64 ? 0 : (currentKey &>> UInt64(windowBits)) &<< UInt64(windowBits)
        return window | UInt64(truncatingIfNeeded: index) &<< UInt64(truncatingIfNeeded: level &* Self.slotBits)
    }
}

// MARK: - Public API

extension TimerWheel {
    /// The width of a level-0 slot, in nanoseconds.
    ///
    /// - Complexity: O(1).
    @inlinable
    public var tick: Int64 { 1 << tickShift }

    /// The instant of the last ``advance(to:_:)``, or of ``init(tick:now:)``.
    ///
    /// - Complexity: O(1).
    @inlinable
    public var now: Int64 { _now }

    /// The number of pending timers.
    ///
    /// - Complexity: O(1).
    @inlinable
    public var count: Int { _count }

    /// Whether no timer is pending.
    ///
    /// - Complexity: O(1).
    @inlinable
    public var isEmpty: Bool { _count == 0 }

    /// The number of timers the wheel can hold without allocating.
    ///
    /// - Complexity: O(1).
    @inlinable
    public var capacity: Int { slabCapacity }

    /// Makes room for `minimumCapacity` pending timers, so that scheduling up to
    /// that many allocates nothing.
    ///
    /// The new entries are initialized (and their memory touched) here, not when
    /// timers are scheduled.
    ///
    /// - Parameter minimumCapacity: The number of timers to make room for.
    /// - Complexity: O(*n*), where *n* is the new capacity, if it grows; else O(1).
    @inlinable
    public mutating func reserveCapacity(_ minimumCapacity: Int) {
        guard minimumCapacity > slabCapacity else { return }
        let limit = Int(Self.nilIndex) - 1
        precondition(minimumCapacity <= limit, "TimerWheel: cannot hold more than \(limit) timers")
        resize(to: minimumCapacity)
    }

    /// Whether the timer is still pending: neither fired nor cancelled.
    ///
    /// - Parameter id: An identifier returned by ``schedule(at:_:)``.
    /// - Complexity: O(1).
    @inlinable
    public func contains(_ id: TimerID) -> Bool {
        pendingIndex(of: id) != nil
    }

    /// The deadline of a pending timer, or `nil` if the identifier is stale.
    ///
    /// - Parameter id: An identifier returned by ``schedule(at:_:)``.
    /// - Complexity: O(1).
    @inlinable
    public func deadline(of id: TimerID) -> Int64? {
        guard let index = pendingIndex(of: id) else { return nil }
        return entries[index].deadline
    }

    /// Schedules a timer.
    ///
    /// A deadline at or before ``now`` is already due: the timer fires at the next
    /// ``advance(to:_:)``. Any deadline up to `Int64.max` is valid.
    ///
    /// - Parameters:
    ///   - deadline: The instant the timer is due, in nanoseconds.
    ///   - payload: The value handed back when the timer fires or is cancelled.
    /// - Returns: The identifier of the new timer.
    /// - Complexity: O(1); amortized O(1) when the slab grows.
    @inlinable
    public mutating func schedule(at deadline: Int64, _ payload: consuming Payload) -> TimerID {
        let index = takeFreeEntry()
        let entry = entries + index
        entry.pointee.deadline = deadline
        entry.pointee.sequence = nextSequence
        entry.pointee.payload = payload
        nextSequence &+= 1
        link(index, into: slot(forDeadline: deadline))
        _count &+= 1
        _checkEntry(index)
        return TimerID(index: UInt32(truncatingIfNeeded: index), generation: entry.pointee.generation)
    }

    /// Cancels a pending timer.
    ///
    /// - Parameter id: An identifier returned by ``schedule(at:_:)``.
    /// - Returns: The payload of the timer if this call kept it from firing; `nil`
    ///   if the identifier is stale: the timer already fired or was cancelled.
    /// - Complexity: O(1).
    @inlinable
    @discardableResult
    public mutating func cancel(_ id: TimerID) -> Payload? {
        guard let index = pendingIndex(of: id) else { return nil }
        unlink(index)
        return release(index)
    }

    /// Moves a pending timer to a new deadline, keeping its identifier.
    ///
    /// For first-in first-out order among equal deadlines, the timer counts as
    /// scheduled now. A deadline at or before ``now`` fires at the next advance.
    ///
    /// - Parameters:
    ///   - id: An identifier returned by ``schedule(at:_:)``.
    ///   - deadline: The new instant the timer is due, in nanoseconds.
    /// - Returns: `true` if the timer was pending; `false` if the identifier is
    ///   stale, in which case nothing changes.
    /// - Complexity: O(1).
    @inlinable
    @discardableResult
    public mutating func reschedule(_ id: TimerID, to deadline: Int64) -> Bool {
        guard let index = pendingIndex(of: id) else { return false }
        unlink(index)
        let entry = entries + index
        entry.pointee.deadline = deadline
        entry.pointee.sequence = nextSequence
        nextSequence &+= 1
        link(index, into: slot(forDeadline: deadline))
        _checkEntry(index)
        return true
    }

    /// An instant at or before the earliest pending deadline, or `nil` if no timer
    /// is pending.
    ///
    /// It is never later than the earliest deadline, so a kernel timer armed at it
    /// never wakes the owner late. When the earliest timer is in level 0, that is
    /// within the current window of 64 ticks, it is the exact earliest deadline.
    /// Otherwise it is the first instant of the earliest non-empty slot, a lower
    /// bound: advancing to it fires nothing but moves that slot's timers down a
    /// level, and the next ``nextDeadline`` is closer or exact. A value at or before
    /// ``now`` means that timers are already due.
    ///
    /// - Complexity: O(*m*), where *m* is the number of timers in the earliest
    ///   slot when that slot is in level 0 (timers due in the same tick); O(1)
    ///   otherwise.
    @inlinable
    public var nextDeadline: Int64? {
        guard occupiedLevels != 0 else { return nil }
        let level = occupiedLevels.trailingZeroBitCount
        let index = occupiedSlots[level].trailingZeroBitCount
        guard level == 0 else {
            return instant(ofKey: startKey(level: level, index: index))
        }
        let entries = self.entries
        var earliest = Int64.max
        Self.walk(lists(ofSlot: index), in: entries) { entry in
            earliest = Swift.min(earliest, entries[entry].deadline)
        }
        return earliest
    }

    /// Moves time forward and fires every timer whose deadline is at or before
    /// `now`.
    ///
    /// Each fired timer is removed, its identifier becomes stale, and `body` gets
    /// its identifier, its deadline and its payload, which it owns from then on (so a payload
    /// moves out of the wheel without a copy). Timers fire in deadline order; equal
    /// deadlines fire in the order they were scheduled or last rescheduled. No timer
    /// with a deadline after `now` fires, even one in the same tick.
    ///
    /// `body` cannot reach the wheel while it runs; an owner typically appends the
    /// fired timers to a buffer and runs their callbacks afterwards.
    ///
    /// If `now` is earlier than ``now``, time does not go backwards: the call does
    /// nothing and returns 0. Advancing to the same instant fires the timers
    /// scheduled at or before it since the last advance.
    ///
    /// - Parameters:
    ///   - now: The current instant, in nanoseconds.
    ///   - body: Called once per fired timer, in firing order.
    /// - Returns: The number of timers fired.
    /// - Complexity: O(*f* log *k* + *c* + *s*): *f* fired timers, sorted among the
    ///   *k* due in the same tick; *c* timers moved down a level; *s* non-empty
    ///   slots visited, including the one of the tick of `now`. Empty slots are
    ///   skipped through the bitmaps, so the length of the step does not matter.
    @inlinable
    @discardableResult
    public mutating func advance(
        to now: Int64,
        _ body: (_ id: TimerID, _ deadline: Int64, _ payload: consuming Payload) -> Void
    ) -> Int {
        guard now >= _now else { return 0 }
        let target = key(of: now)
        var fired = 0
        while occupiedLevels != 0 {
            let level = occupiedLevels.trailingZeroBitCount
            let index = occupiedSlots[level].trailingZeroBitCount
            let start = startKey(level: level, index: index)
            if start > target { break }
            // Moving to the start of the earliest non-empty slot keeps every other
            // timer on its level and slot: only this slot's timers change place.
            currentKey = start
            let slot = level &* Self.slotsPerLevel &+ index
            if level == 0 {
                fired &+= fire(slot: slot, upTo: now, body)
                // Timers left in the tick of `now` are due after it; every other
                // slot is later still.
                if start == target { break }
            } else {
                cascade(slot: slot)
            }
        }
        currentKey = target
        _now = now
        _checkAfterAdvance()
        return fired
    }
}

// MARK: - Slot lists

extension TimerWheel {
    /// The entry index of a pending timer, or `nil` for a stale or foreign id.
    @inlinable @inline(__always)
    func pendingIndex(of id: TimerID) -> Int? {
        let index = Int(id.index)
        guard index < slabCapacity else { return nil }
        let entry = entries + index
        guard entry.pointee.generation == id.generation, entry.pointee.isPending else { return nil }
        return index
    }

    /// The heads of the four lists of a slot.
    @usableFromInline
    typealias SlotLists = (UInt32, UInt32, UInt32, UInt32)

    /// The number of lists per slot.
    @inlinable
    static var listsPerSlot: Int { 4 }

    /// The list of `slot` that holds entry `index`.
    @inlinable @inline(__always)
    static func list(slot: Int, index: Int) -> Int {
        slot &<< 2 | index & 3
    }

    /// The heads of the lists of a slot.
    @inlinable @inline(__always)
    func lists(ofSlot slot: Int) -> SlotLists {
        let base = heads + slot &<< 2
        return (base[0], base[1], base[2], base[3])
    }

    /// Whether every list of a slot is empty.
    @inlinable @inline(__always)
    func isEmpty(slot: Int) -> Bool {
        let base = heads + slot &<< 2
        return base[0] & base[1] & base[2] & base[3] == Self.nilIndex
    }

    /// Empties a slot and returns the heads of its lists, whose entries still
    /// link to one another.
    @inlinable @inline(__always)
    mutating func detachLists(ofSlot slot: Int) -> SlotLists {
        let detached = lists(ofSlot: slot)
        (heads + slot &<< 2).update(repeating: Self.nilIndex, count: Self.listsPerSlot)
        markEmpty(slot: slot)
        return detached
    }

    /// Calls `body` with the index of every entry of the lists, taking the four
    /// lists in step so that their cache misses overlap. `body` may relink the
    /// entry it gets.
    @inlinable @inline(__always)
    static func walk(_ lists: SlotLists, in entries: UnsafeMutablePointer<Entry>, _ body: (Int) -> Void) {
        var (first, second, third, fourth) = lists
        while first & second & third & fourth != nilIndex {
            if first != nilIndex {
                let index = Int(first)
                first = entries[index].next
                body(index)
            }
            if second != nilIndex {
                let index = Int(second)
                second = entries[index].next
                body(index)
            }
            if third != nilIndex {
                let index = Int(third)
                third = entries[index].next
                body(index)
            }
            if fourth != nilIndex {
                let index = Int(fourth)
                fourth = entries[index].next
                body(index)
            }
        }
    }

    /// Pushes a detached entry at the head of its list in `slot`.
    @inlinable @inline(__always)
    mutating func link(_ index: Int, into slot: Int) {
        let list = Self.list(slot: slot, index: index)
        let head = heads[list]
        let index32 = UInt32(truncatingIfNeeded: index)
        entries[index].next = head
        entries[index].previous = Self.nilIndex
        entries[index].slot = UInt16(truncatingIfNeeded: slot)
        if head != Self.nilIndex {
            entries[Int(head)].previous = index32
        }
        heads[list] = index32
        let level = slot &>> Self.slotBits
        occupiedSlots[level] |= 1 &<< UInt64(truncatingIfNeeded: slot & 63)
        occupiedLevels |= 1 &<< UInt64(truncatingIfNeeded: level)
    }

    /// Takes a pending entry out of its list.
    @inlinable @inline(__always)
    mutating func unlink(_ index: Int) {
        let next = entries[index].next
        let previous = entries[index].previous
        if previous == Self.nilIndex {
            let slot = Int(entries[index].slot)
            heads[Self.list(slot: slot, index: index)] = next
            if next == Self.nilIndex && isEmpty(slot: slot) { markEmpty(slot: slot) }
        } else {
            entries[Int(previous)].next = next
        }
        if next != Self.nilIndex {
            entries[Int(next)].previous = previous
        }
    }

    /// Clears the occupancy bits of a slot that has become empty.
    @inlinable @inline(__always)
    mutating func markEmpty(slot: Int) {
        let level = slot &>> Self.slotBits
        let remaining = occupiedSlots[level] & ~(1 &<< UInt64(truncatingIfNeeded: slot & 63))
        occupiedSlots[level] = remaining
        if remaining == 0 {
            occupiedLevels &= ~(1 &<< UInt64(truncatingIfNeeded: level))
        }
    }

    /// Frees an unlinked entry: its payload is returned, its generation bumped and
    /// the entry returned to the free set.
    @inlinable @inline(__always)
    mutating func release(_ index: Int) -> Payload? {
        let entry = entries + index
        let payload = entry.pointee.payload.take()
        entry.pointee.slot = Entry.freeSlot
        entry.pointee.next = Self.nilIndex
        entry.pointee.previous = Self.nilIndex
        entry.pointee.generation &+= 1
        free.insert(index)
        _count &-= 1
        _checkReleased(index)
        return payload
    }

    /// Moves every timer of a slot to the slot it belongs to at `currentKey`.
    @inlinable
    mutating func cascade(slot: Int) {
        let detached = detachLists(ofSlot: slot)
        let entries = self.entries
        Self.walk(detached, in: entries) { index in
            link(index, into: self.slot(forDeadline: entries[index].deadline))
        }
    }

    /// Fires the timers of a level-0 slot that are due at `now`, in order.
    @inlinable
    mutating func fire(
        slot: Int,
        upTo now: Int64,
        _ body: (TimerID, Int64, consuming Payload) -> Void
    ) -> Int {
        var due = ContiguousArray<Due>()
        swap(&due, &dueBuffer)
        defer {
            due.removeAll(keepingCapacity: true)
            swap(&due, &dueBuffer)
        }
        let entries = self.entries
        var total = 0
        Self.walk(lists(ofSlot: slot), in: entries) { index in
            total &+= 1
            let deadline = entries[index].deadline
            if deadline <= now {
                let index32 = UInt32(truncatingIfNeeded: index)
                due.append(Due(deadline: deadline, sequence: entries[index].sequence, index: index32))
            }
        }
        if due.count == total {
            _ = detachLists(ofSlot: slot)
        } else {
            for timer in due { unlink(Int(timer.index)) }
        }
        due.sort()
        for timer in due {
            let index = Int(timer.index)
            let id = TimerID(index: timer.index, generation: entries[index].generation)
            guard let payload = release(index) else {
                preconditionFailure("TimerWheel: a pending timer has no payload")
            }
            body(id, timer.deadline, payload)
        }
        return due.count
    }
}
