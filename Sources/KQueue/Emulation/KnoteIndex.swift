#if os(Linux) && !KQUEUE_LIBKQUEUE

/// The lookup from (ident, filter) to a knote's index in the ``KnoteTable``: an open-addressing
/// hash table with linear probing and backward-shift deletion (no tombstones).
///
/// It replaces a `Dictionary` on the registration path of millions of timers: one multiply
/// hashes a key (idents are chosen by the program, not by a remote peer, so a seeded hash is
/// not needed), and a probe touches one 8-byte cell in the common case.
///
/// A cell holds a knote's index and its key's 32-bit hash, not the key: the key stays in the
/// knote, where the table confirms a match (``find(hash:where:)``), and the hash alone places a
/// cell again when the table grows. Half the memory of a cell with the key, and memory is what a
/// growing table pays for most: every page of a fresh table is a page fault, which costs
/// microseconds in a virtual machine.
///
/// - Complexity: `find`, `insert` and `remove` are O(1) on average; the table doubles when
///   it is three-quarters full.
struct KnoteIndex {
    private struct Cell {
        /// The key's hash; its low bits are the cell's home position.
        var hash: UInt32
        /// The knote's index, or -1 for an empty cell.
        var knote: Int32

        static let empty = Cell(hash: 0, knote: -1)
    }

    private var cells = [Cell](repeating: .empty, count: 16)
    private var mask = 15
    private(set) var count = 0

    /// The hash of a key: nearby idents keep nearby cells.
    ///
    /// Idents come in runs (timers numbered 1, 2, 3 …, descriptors, which are small and dense),
    /// so the hash keeps the low 4 bits of the ident and spreads only the blocks of 16 it falls
    /// in (a multiplicative hash of the rest of the ident and the filter). Consecutive idents
    /// then share the two cache lines of a block: registering them touches a fresh page of the
    /// table once per 16, not once per knote (a miss of the cache and the TLB costs more than
    /// the rest of a registration). Idents that are multiples of 16 (addresses) each start a
    /// block of their own.
    static func hash(ident: UInt, filter: Int16) -> UInt32 {
        let key = UInt64(ident) ^ (UInt64(UInt16(bitPattern: filter)) &<< 48)
        let block = UInt32(truncatingIfNeeded: ((key >> 4) &* 0x9E37_79B9_7F4A_7C15) >> 32)
        return block &<< 4 | UInt32(truncatingIfNeeded: key & 15)
    }

    /// The knote of the key whose hash is `hash`: the one of the knotes with that hash for
    /// which `isKey` is true.
    func find(hash: UInt32, where isKey: (Int32) -> Bool) -> Int32? {
        var position = Int(hash) & mask
        while true {
            let cell = cells[position]
            if cell.knote < 0 { return nil }
            if cell.hash == hash && isKey(cell.knote) { return cell.knote }
            position = (position &+ 1) & mask
        }
    }

    /// Adds a knote whose key is not in the table.
    mutating func insert(hash: UInt32, knote: Int32) {
        if (count + 1) * 4 > cells.count * 3 { grow() }
        place(Cell(hash: hash, knote: knote))
        count += 1
    }

    /// Stores a cell in the first free position of its probe run; the table has room.
    private mutating func place(_ cell: Cell) {
        var position = Int(cell.hash) & mask
        while cells[position].knote >= 0 {
            position = (position &+ 1) & mask
        }
        cells[position] = cell
    }

    /// Removes a knote, given its key's hash.
    mutating func remove(hash: UInt32, knote: Int32) {
        var position = Int(hash) & mask
        while true {
            let cell = cells[position]
            if cell.knote < 0 { return }
            if cell.knote == knote { break }
            position = (position &+ 1) & mask
        }
        // Backward-shift deletion: pull later cells of the probe run into the hole when their
        // home position does not lie between the hole and them.
        var hole = position
        var next = (hole &+ 1) & mask
        while cells[next].knote >= 0 {
            let home = Int(cells[next].hash) & mask
            if (next &- home) & mask >= (next &- hole) & mask {
                cells[hole] = cells[next]
                hole = next
            }
            next = (next &+ 1) & mask
        }
        cells[hole] = .empty
        count -= 1
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
