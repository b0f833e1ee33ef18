#if os(Linux) && !KQUEUE_LIBKQUEUE

/// The armed timers of one queue, ordered by deadline: a binary min-heap of knote indices.
///
/// Each knote records its position (``Knote/heapIndex``), so a timer is removed or moved
/// without a search. Equal deadlines come out in the order they were armed.
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
    private var nextSequence: UInt64 = 0

    var count: Int { entries.count }
    var first: Entry? { entries.first }

    /// Arms `knote` at `deadline`, or moves it there if it is armed already.
    mutating func schedule(_ knote: Int32, at deadline: Int64, in table: inout KnoteTable) {
        let entry = Entry(deadline: deadline, sequence: nextSequence, knote: knote)
        nextSequence &+= 1
        let position = table[knote].heapIndex
        if position >= 0 {
            let old = entries[Int(position)]
            entries[Int(position)] = entry
            if entry.precedes(old) {
                siftUp(Int(position), in: &table)
            } else {
                siftDown(Int(position), in: &table)
            }
        } else {
            // siftUp records the entry's final position in the knote.
            entries.append(entry)
            siftUp(entries.count - 1, in: &table)
        }
    }

    /// Disarms `knote` if it is armed.
    mutating func remove(_ knote: Int32, in table: inout KnoteTable) {
        let position = Int(table[knote].heapIndex)
        guard position >= 0 else { return }
        table[knote].heapIndex = -1
        let last = entries.removeLast()
        guard position < entries.count else { return }
        entries[position] = last
        table[last.knote].heapIndex = Int32(position)
        if position > 0 && last.precedes(entries[(position - 1) / 2]) {
            siftUp(position, in: &table)
        } else {
            siftDown(position, in: &table)
        }
    }

    private mutating func siftUp(_ start: Int, in table: inout KnoteTable) {
        var child = start
        let entry = entries[child]
        while child > 0 {
            let parent = (child - 1) / 2
            guard entry.precedes(entries[parent]) else { break }
            entries[child] = entries[parent]
            table[entries[child].knote].heapIndex = Int32(child)
            child = parent
        }
        entries[child] = entry
        table[entry.knote].heapIndex = Int32(child)
    }

    private mutating func siftDown(_ start: Int, in table: inout KnoteTable) {
        var parent = start
        let entry = entries[parent]
        let count = entries.count
        while true {
            var child = 2 * parent + 1
            guard child < count else { break }
            if child + 1 < count && entries[child + 1].precedes(entries[child]) { child += 1 }
            guard entries[child].precedes(entry) else { break }
            entries[parent] = entries[child]
            table[entries[parent].knote].heapIndex = Int32(parent)
            parent = child
        }
        entries[parent] = entry
        table[entry.knote].heapIndex = Int32(parent)
    }
}
#endif
