#if os(Linux) && !KQUEUE_LIBKQUEUE

/// The knotes of one queue: slab storage addressed by `Int32` indices (a ``SegmentedArray``, so
/// a knote never moves), a ``KnoteIndex`` by (ident, filter), and the ready queue (an intrusive
/// doubly linked list through the knotes).
///
/// - Complexity: lookup, insert, remove, enqueue and dequeue are O(1) (the lookup is one
///   probe of the ``KnoteIndex`` on average).
struct KnoteTable {
    private var storage = SegmentedArray<Knote>()
    private var freeSlots: [Int32] = []
    private var lookup = KnoteIndex()

    private(set) var readyHead: Int32 = -1
    private var readyTail: Int32 = -1
    private(set) var readyCount = 0

    /// The number of registered knotes.
    var count: Int { lookup.count }

    subscript(index: Int32) -> Knote {
        _read { yield storage[Int(index)] }
        _modify { yield &storage[Int(index)] }
    }

    func find(ident: UInt, filter: KEvent.Filter) -> Int32? {
        lookup.find(hash: KnoteIndex.hash(ident: ident, filter: filter.rawValue)) { knote in
            storage[Int(knote)].ident == ident && storage[Int(knote)].filter == filter
        }
    }

    mutating func insert(_ knote: Knote) -> Int32 {
        let index: Int32
        if let reused = freeSlots.popLast() {
            index = reused
            storage[Int(index)] = knote
        } else {
            precondition(storage.count < Int(Int32.max), "too many knotes in one queue")
            index = Int32(storage.count)
            storage.append(knote)
        }
        lookup.insert(hash: KnoteIndex.hash(ident: knote.ident, filter: knote.filter.rawValue), knote: index)
        return index
    }

    /// Removes a knote; the caller has already detached it from its filter.
    mutating func remove(_ index: Int32) {
        if storage[Int(index)].isQueued { dequeue(index) }
        let knote = storage[Int(index)]
        lookup.remove(hash: KnoteIndex.hash(ident: knote.ident, filter: knote.filter.rawValue), knote: index)
        freeSlots.append(index)
    }

    /// Appends a knote to the ready queue unless it is already there.
    mutating func enqueue(_ index: Int32) {
        guard !storage[Int(index)].isQueued else { return }
        storage[Int(index)].isQueued = true
        storage[Int(index)].previous = readyTail
        storage[Int(index)].next = -1
        if readyTail >= 0 {
            storage[Int(readyTail)].next = index
        } else {
            readyHead = index
        }
        readyTail = index
        readyCount += 1
    }

    /// Takes a knote off the ready queue if it is there.
    mutating func dequeue(_ index: Int32) {
        guard storage[Int(index)].isQueued else { return }
        let previous = storage[Int(index)].previous
        let next = storage[Int(index)].next
        if previous >= 0 { storage[Int(previous)].next = next } else { readyHead = next }
        if next >= 0 { storage[Int(next)].previous = previous } else { readyTail = previous }
        storage[Int(index)].isQueued = false
        storage[Int(index)].previous = -1
        storage[Int(index)].next = -1
        readyCount -= 1
    }
}
#endif
