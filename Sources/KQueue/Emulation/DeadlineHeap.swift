#if os(Linux) && !KQUEUE_LIBKQUEUE

/// The armed timers of one queue, ordered by deadline: a binary min-heap of knote indices.
///
/// The heap records the position of each armed knote, so a timer is removed or moved without a
/// search. The positions are an array of the heap's own, by knote index, not a field of the
/// knotes: a sift writes the new position of every entry it moves, and those writes go to 4
/// bytes a knote in one dense array rather than into knotes scattered over the table.
/// Equal deadlines come out in the order they were armed.
///
/// - Complexity: `insert`, `remove` and `update` are O(log n); `first` is O(1).
struct DeadlineHeap {
    struct Entry {
        var deadline: Int64
        var sequence: UInt64
        var knote: Int32

        func precedes(_ other: Entry) -> Bool {
            deadline != other.deadline ? deadline < other.deadline : sequence < other.sequence
        }
    }

    private var entries: ContiguousArray<Entry> = []
    /// Each knote's position in `entries`, -1 while it is not armed; as long as the highest
    /// knote index armed so far, plus one.
    private var positions: ContiguousArray<Int32> = []
    private var nextSequence: UInt64 = 0

    var count: Int { entries.count }
    var first: Entry? { entries.first }

    /// Whether `knote` is armed.
    func isArmed(_ knote: Int32) -> Bool {
        position(of: knote) >= 0
    }

    private func position(of knote: Int32) -> Int {
        Int(knote) < positions.count ? Int(positions[Int(knote)]) : -1
    }

    /// Arms `knote` at `deadline`, or moves it there if it is armed already.
    mutating func schedule(_ knote: Int32, at deadline: Int64) {
        let entry = Entry(deadline: deadline, sequence: nextSequence, knote: knote)
        nextSequence &+= 1
        let position = position(of: knote)
        if position >= 0 {
            let old = entries[position]
            entries[position] = entry
            if entry.precedes(old) {
                siftUp(position)
            } else {
                siftDown(position)
            }
        } else {
            while positions.count <= Int(knote) { positions.append(-1) }
            // siftUp records the entry's final position.
            entries.append(entry)
            siftUp(entries.count - 1)
        }
    }

    /// Disarms `knote` if it is armed.
    mutating func remove(_ knote: Int32) {
        let position = position(of: knote)
        guard position >= 0 else { return }
        positions[Int(knote)] = -1
        let last = entries.removeLast()
        guard position < entries.count else { return }
        entries[position] = last
        positions[Int(last.knote)] = Int32(position)
        if position > 0 && last.precedes(entries[(position - 1) / 2]) {
            siftUp(position)
        } else {
            siftDown(position)
        }
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        let entry = entries[child]
        while child > 0 {
            let parent = (child - 1) / 2
            let moved = entries[parent]
            guard entry.precedes(moved) else { break }
            entries[child] = moved
            positions[Int(moved.knote)] = Int32(child)
            child = parent
        }
        entries[child] = entry
        positions[Int(entry.knote)] = Int32(child)
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        let entry = entries[parent]
        let count = entries.count
        while true {
            var child = 2 * parent + 1
            guard child < count else { break }
            if child + 1 < count && entries[child + 1].precedes(entries[child]) { child += 1 }
            let moved = entries[child]
            guard moved.precedes(entry) else { break }
            entries[parent] = moved
            positions[Int(moved.knote)] = Int32(parent)
            parent = child
        }
        entries[parent] = entry
        positions[Int(entry.knote)] = Int32(parent)
    }
}
#endif
