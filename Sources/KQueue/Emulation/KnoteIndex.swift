#if os(Linux) && !KQUEUE_LIBKQUEUE

/// The lookup from (ident, filter) to a knote's index in the ``KnoteTable``: an open-addressing
/// hash table with linear probing and backward-shift deletion (no tombstones).
///
/// It replaces a `Dictionary` on the registration path of millions of timers: one multiply
/// hashes a key (idents are chosen by the program, not by a remote peer, so a seeded hash is
/// not needed), and a probe touches one 16-byte cell in the common case.
///
/// - Complexity: `find`, `insert` and `remove` are O(1) on average; the table doubles when
///   it is three-quarters full.
struct KnoteIndex {
    private struct Cell {
        var ident: UInt
        var filter: Int16
        /// The knote's index, or -1 for an empty cell.
        var knote: Int32

        static let empty = Cell(ident: 0, filter: 0, knote: -1)
    }

    private var cells = [Cell](repeating: .empty, count: 16)
    private var mask = 15
    private(set) var count = 0

    func find(ident: UInt, filter: Int16) -> Int32? {
        var position = home(ident: ident, filter: filter)
        while true {
            let cell = cells[position]
            if cell.knote < 0 { return nil }
            if cell.ident == ident && cell.filter == filter { return cell.knote }
            position = (position &+ 1) & mask
        }
    }

    /// Adds a key that is not in the table.
    mutating func insert(ident: UInt, filter: Int16, knote: Int32) {
        if (count + 1) * 4 > cells.count * 3 { grow() }
        place(Cell(ident: ident, filter: filter, knote: knote))
        count += 1
    }

    /// Stores a cell in the first free position of its probe run; the table has room.
    private mutating func place(_ cell: Cell) {
        var position = home(ident: cell.ident, filter: cell.filter)
        while cells[position].knote >= 0 {
            position = (position &+ 1) & mask
        }
        cells[position] = cell
    }

    mutating func remove(ident: UInt, filter: Int16) {
        var position = home(ident: ident, filter: filter)
        while true {
            let cell = cells[position]
            if cell.knote < 0 { return }
            if cell.ident == ident && cell.filter == filter { break }
            position = (position &+ 1) & mask
        }
        // Backward-shift deletion: pull later cells of the probe run into the hole when their
        // home position does not lie between the hole and them.
        var hole = position
        var next = (hole &+ 1) & mask
        while cells[next].knote >= 0 {
            let home = self.home(ident: cells[next].ident, filter: cells[next].filter)
            if (next &- home) & mask >= (next &- hole) & mask {
                cells[hole] = cells[next]
                hole = next
            }
            next = (next &+ 1) & mask
        }
        cells[hole] = .empty
        count -= 1
    }

    private func home(ident: UInt, filter: Int16) -> Int {
        let mixed = (UInt64(ident) ^ (UInt64(UInt16(bitPattern: filter)) &<< 48)) &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: mixed >> 32) & mask
    }

    private mutating func grow() {
        let old = cells
        cells = [Cell](repeating: .empty, count: old.count * 2)
        mask = cells.count - 1
        // The count stays: every key moves, none is added, and the doubled table has room.
        for cell in old where cell.knote >= 0 {
            place(cell)
        }
    }
}
#endif
