/// A hierarchical timing wheel: many one-shot timers, each scheduled, cancelled
/// and rescheduled in O(1), with the earliest deadline known without a scan.
///
/// The wheel is a pure data structure. It has no clock: time is an `Int64` count
/// of nanoseconds on any monotonic timeline, and the owner passes the current
/// instant to ``advance(to:_:)``. It does no I/O, takes no locks and is confined
/// to the thread of its owner (it is not `Sendable`).
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
///   once per level in its life (8 times with the default tick).
/// - **Bitmaps.** Each level keeps a 64-bit occupancy bitmap of its non-empty
///   slots, plus one bitmap of non-empty levels. Occupied slots always lie ahead
///   of the current position, so the lowest set bit of the lowest non-empty level
///   is the next slot that matters: ``nextDeadline`` and ``advance(to:_:)`` jump
///   over empty slots, and advancing by years costs no more than by one tick.
/// - **Slab storage.** Timers live in one array of entries (the slab); a slot is an
///   intrusive doubly-linked list of `UInt32` indices into it. Free entries are
///   kept in a bitmap tree that hands out the lowest index first, so a reused slab
///   fills in address order. Scheduling allocates nothing once the slab has grown
///   to the peak number of pending timers (see ``reserveCapacity(_:)``). The slab
///   is shared copy-on-write between copies of a wheel.
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
/// free set. The slot heads and bitmaps take about 2–3 KiB per wheel, whatever the
/// number of timers.
public struct TimerWheel<Payload> {
    /// The slab, the slot lists and the free set.
    @usableFromInline var storage: Storage

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
        self.tickShift = shift
        self.levelCount = levelCount
        self.storage = Storage(capacity: 0, levelCount: levelCount)
        self.occupiedLevels = 0
        self.nextSequence = 0
        self.currentKey = UInt64(bitPattern: now ^ .min) >> UInt64(shift)
        self._count = 0
        self._now = now
        self.dueBuffer = []
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
    public var capacity: Int { storage.capacity }

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
        guard minimumCapacity > storage.capacity else { return }
        let limit = Int(Self.nilIndex) - 1
        precondition(minimumCapacity <= limit, "TimerWheel: cannot hold more than \(limit) timers")
        storage = Storage(copying: storage, capacity: minimumCapacity)
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
        return storage.entries[index].deadline
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
    public mutating func schedule(at deadline: Int64, _ payload: Payload) -> TimerID {
        makeUnique()
        let index = takeFreeEntry()
        let entry = storage.entries + index
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
    @inlinable @inline(__always)
    @discardableResult
    public mutating func cancel(_ id: TimerID) -> Payload? {
        guard let index = pendingIndex(of: id) else { return nil }
        makeUnique()
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
        makeUnique()
        unlink(index)
        let entry = storage.entries + index
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
        let index = storage.occupiedSlots[level].trailingZeroBitCount
        guard level == 0 else {
            return instant(ofKey: startKey(level: level, index: index))
        }
        let entries = storage.entries
        var earliest = Int64.max
        var entry = storage.heads[index]
        while entry != Self.nilIndex {
            earliest = Swift.min(earliest, entries[Int(entry)].deadline)
            entry = entries[Int(entry)].next
        }
        return earliest
    }

    /// Moves time forward and fires every timer whose deadline is at or before
    /// `now`.
    ///
    /// Each fired timer is removed, its identifier becomes stale, and `body` gets
    /// its identifier, deadline and payload. Timers fire in deadline order; equal
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
        _ body: (_ id: TimerID, _ deadline: Int64, _ payload: Payload) -> Void
    ) -> Int {
        guard now >= _now else { return 0 }
        makeUnique()
        let target = key(of: now)
        var fired = 0
        while occupiedLevels != 0 {
            let level = occupiedLevels.trailingZeroBitCount
            let index = storage.occupiedSlots[level].trailingZeroBitCount
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
        guard index < storage.capacity else { return nil }
        let entry = storage.entries + index
        guard entry.pointee.generation == id.generation, entry.pointee.isPending else { return nil }
        return index
    }

    /// Pushes a detached entry at the head of a slot list.
    @inlinable @inline(__always)
    mutating func link(_ index: Int, into slot: Int) {
        let entries = storage.entries
        let head = storage.heads[slot]
        let index32 = UInt32(truncatingIfNeeded: index)
        entries[index].next = head
        entries[index].previous = Self.nilIndex
        entries[index].slot = UInt16(truncatingIfNeeded: slot)
        if head == Self.nilIndex {
            let level = slot &>> Self.slotBits
            storage.occupiedSlots[level] |= 1 &<< UInt64(truncatingIfNeeded: slot & 63)
            occupiedLevels |= 1 &<< UInt64(truncatingIfNeeded: level)
        } else {
            entries[Int(head)].previous = index32
        }
        storage.heads[slot] = index32
    }

    /// Takes a pending entry out of its slot list.
    @inlinable @inline(__always)
    mutating func unlink(_ index: Int) {
        let entries = storage.entries
        let next = entries[index].next
        let previous = entries[index].previous
        if previous == Self.nilIndex {
            let slot = Int(entries[index].slot)
            storage.heads[slot] = next
            if next == Self.nilIndex { markEmpty(slot: slot) }
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
        let remaining = storage.occupiedSlots[level] & ~(1 &<< UInt64(truncatingIfNeeded: slot & 63))
        storage.occupiedSlots[level] = remaining
        if remaining == 0 {
            occupiedLevels &= ~(1 &<< UInt64(truncatingIfNeeded: level))
        }
    }

    /// Frees an unlinked entry: its payload is returned, its generation bumped and
    /// the entry returned to the free set.
    @inlinable @inline(__always)
    mutating func release(_ index: Int) -> Payload? {
        let entry = storage.entries + index
        let payload = entry.pointee.payload.take()
        entry.pointee.slot = Entry.freeSlot
        entry.pointee.next = Self.nilIndex
        entry.pointee.previous = Self.nilIndex
        entry.pointee.generation &+= 1
        storage.free.insert(index)
        _count &-= 1
        return payload
    }

    /// Moves every timer of a slot to the slot it belongs to at `currentKey`.
    @inlinable
    mutating func cascade(slot: Int) {
        let entries = storage.entries
        var entry = storage.heads[slot]
        storage.heads[slot] = Self.nilIndex
        markEmpty(slot: slot)
        while entry != Self.nilIndex {
            let index = Int(entry)
            entry = entries[index].next
            link(index, into: self.slot(forDeadline: entries[index].deadline))
        }
    }

    /// Fires the timers of a level-0 slot that are due at `now`, in order.
    @inlinable
    mutating func fire(
        slot: Int,
        upTo now: Int64,
        _ body: (TimerID, Int64, Payload) -> Void
    ) -> Int {
        var due = ContiguousArray<Due>()
        swap(&due, &dueBuffer)
        defer {
            due.removeAll(keepingCapacity: true)
            swap(&due, &dueBuffer)
        }
        let entries = storage.entries
        var total = 0
        var entry = storage.heads[slot]
        while entry != Self.nilIndex {
            let index = Int(entry)
            total &+= 1
            if entries[index].deadline <= now {
                due.append(Due(deadline: entries[index].deadline, sequence: entries[index].sequence, index: entry))
            }
            entry = entries[index].next
        }
        if due.count == total {
            storage.heads[slot] = Self.nilIndex
            markEmpty(slot: slot)
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
