import KQueue

/// The kernel events a loop waits for on behalf of its tasks: one registration per (ident,
/// filter), shared by every task waiting for it, and the changes not yet given to the kernel.
///
/// Reached only on the loop's thread. A wait adds a one-shot knote (EV_ADD | EV_ONESHOT)
/// whose `udata` names its registration; the change is not a system call of its own but goes
/// to the kernel with the loop's next `kevent` wait, as libev batches its descriptor changes.
/// The kernel returns the event once and deletes the knote, and every task that waits for it
/// resumes with it. A change the kernel refuses (a descriptor that is not open, a process that
/// does not exist) comes back as an EV_ERROR entry with the same `udata`, and its waiters
/// resume with the error. When the last waiter of a registration is cancelled, an EV_DELETE
/// follows the EV_ADD, so no knote is left behind.
///
/// `udata` is odd for a registration: `generation << 32 | slot << 1 | 1`. A slot reused for
/// another registration has a new generation, so an event of the old one is never taken for
/// it. Even values are the loop's own: 0 its wake-up, others a ``SignalWatch``.
struct LoopEvents: ~Copyable {
    private struct Key: Hashable {
        var ident: UInt
        var filter: KEvent.Filter
    }

    private struct Registration {
        var key: Key
        var generation: UInt32
        /// The first waiter, and any others (rare: an array only when a second task waits).
        var waiter: EventWaiter
        var others: [EventWaiter] = []
    }

    /// Changes for the next `kevent` call.
    var changes: [KEvent] = []
    private var slots: [Registration?] = []
    private var freeSlots: [Int32] = []
    private var index: [Key: Int32] = [:]
    private var nextGeneration: UInt32 = 0

    /// The number of registrations (knotes the loop has added for its waiters or is adding).
    var count: Int { index.count }

    /// Whether `udata` names one of these registrations.
    @inline(__always)
    static func names(_ udata: UInt) -> Bool { udata & 1 == 1 }

    /// Makes `waiter` wait for `change`'s (ident, filter): joins the registration waiting for
    /// it, or adds one.
    mutating func register(_ waiter: EventWaiter, for change: KEvent) {
        guard !waiter.isCancelled else { return }
        let key = Key(ident: change.ident, filter: change.filter)
        if let slot = index[key] {
            waiter.slot = slot
            waiter.generation = slots[Int(slot)]!.generation
            slots[Int(slot)]!.others.append(waiter)
            return
        }
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
        } else {
            slot = Int32(slots.count)
            slots.append(nil)
        }
        nextGeneration &+= 1
        slots[Int(slot)] = Registration(key: key, generation: nextGeneration, waiter: waiter)
        index[key] = slot
        waiter.slot = slot
        waiter.generation = nextGeneration
        var add = change
        add.flags.formUnion([.add, .oneshot])
        add.udata = UInt(nextGeneration) << 32 | UInt(slot) << 1 | 1
        changes.append(add)
    }

    /// The kernel returned `event` (or an EV_ERROR entry for a change): its waiters resume.
    mutating func deliver(_ event: KEvent) {
        let slot = Int(truncatingIfNeeded: (event.udata >> 1) & 0x7FFF_FFFF)
        let generation = UInt32(truncatingIfNeeded: event.udata >> 32)
        guard slot < slots.count, let registration = slots[slot], registration.generation == generation else { return }
        release(slot, registration.key)
        registration.waiter.complete(event)
        for waiter in registration.others { waiter.complete(event) }
    }

    /// A waiter was cancelled (it has resumed already): it leaves its registration, and the
    /// knote goes when no waiter is left.
    mutating func remove(_ waiter: EventWaiter) {
        let slot = Int(waiter.slot)
        guard slot >= 0, slot < slots.count, var registration = slots[slot],
            registration.generation == waiter.generation
        else { return }
        waiter.slot = -1
        if registration.waiter === waiter, let next = registration.others.popLast() {
            registration.waiter = next
        } else {
            registration.others.removeAll { $0 === waiter }
        }
        if registration.waiter !== waiter {
            slots[slot] = registration
            return
        }
        release(slot, registration.key)
        // udata 0: an error for this deletion (the descriptor was closed meanwhile) is ignored.
        changes.append(KEvent(ident: registration.key.ident, filter: registration.key.filter, flags: .delete))
    }

    /// Every waiter, for the loop's shutdown: the registrations are forgotten (the queue is
    /// closed next).
    mutating func removeAll() -> [EventWaiter] {
        let waiters = slots.flatMap { slot in slot.map { [$0.waiter] + $0.others } ?? [] }
        slots.removeAll()
        freeSlots.removeAll()
        index.removeAll()
        changes.removeAll()
        return waiters
    }

    private mutating func release(_ slot: Int, _ key: Key) {
        slots[slot] = nil
        freeSlots.append(Int32(slot))
        index[key] = nil
    }
}

extension LoopCore {
    /// Suspends the calling task until the kernel reports `change`'s event (added one-shot on
    /// the loop's queue), and returns it; `CancellationError` if the task is cancelled or the
    /// loop stops first, the kernel's error if it refuses the change.
    ///
    /// On the loop's thread the wait is registered at once; from another thread it is sent to
    /// the loop. Either way the change reaches the kernel with the loop's next `kevent` call.
    func awaitEvent(_ change: KEvent) async throws -> KEvent {
        try await EventWaiter.wait { [self] waiter in
            if isCurrent {
                register(waiter, for: change)
            } else if !submit(.closure({ self.register(waiter, for: change) })) {
                waiter.fail(CancellationError())
            }
        } stop: { [self] waiter in
            // The task has resumed; its registration goes on the loop's thread.
            _ = submit(.closure({ self.state.pointee.events.remove(waiter) }))
        }
    }

    /// On the loop's thread: registers `waiter`, unless the loop is stopping.
    private func register(_ waiter: EventWaiter, for change: KEvent) {
        if state.pointee.isStopping {
            waiter.fail(CancellationError())
        } else {
            state.pointee.events.register(waiter, for: change)
        }
    }
}
