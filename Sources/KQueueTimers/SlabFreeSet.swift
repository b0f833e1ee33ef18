/// The free entries of a slab, as a set that hands out the lowest index first.
///
/// A 64-ary tree of bitmaps over `capacity` indices: in level 0, bit *i* of word
/// *w* is set when index `64 * w + i` is free; in each level above, a bit is set
/// when the word below it is not zero; the top level is one word. Handing out the
/// lowest free index makes a reused slab fill up in address order, as a fresh one
/// does, instead of in the scattered order timers were cancelled.
///
/// The set does not own its memory: ``TimerWheel`` allocates it with
/// ``allocate(capacity:)`` and frees it with ``deallocate()``.
///
/// Memory: about 1/8 byte per index. Every operation takes one step per level,
/// at most 6 levels for 2³² indices.
@usableFromInline
struct SlabFreeSet {
    /// The words of every level, level 0 first.
    @usableFromInline let words: UnsafeMutablePointer<UInt64>

    /// The offset in `words` of each level; the last level is a single word.
    @usableFromInline let levelStarts: ContiguousArray<Int>

    /// The number of indices the set covers.
    @usableFromInline let capacity: Int

    /// Allocates an empty set of indices `0..<capacity`.
    @usableFromInline
    static func allocate(capacity: Int) -> SlabFreeSet {
        var starts = ContiguousArray<Int>()
        var total = 0
        var levelWords = Swift.max(1, (capacity + 63) / 64)
        while true {
            starts.append(total)
            total += levelWords
            if levelWords == 1 { break }
            levelWords = (levelWords + 63) / 64
        }
        let words = UnsafeMutablePointer<UInt64>.allocate(capacity: total)
        words.initialize(repeating: 0, count: total)
        return SlabFreeSet(words: words, levelStarts: starts, capacity: capacity)
    }

    @inlinable
    init(words: UnsafeMutablePointer<UInt64>, levelStarts: ContiguousArray<Int>, capacity: Int) {
        self.words = words
        self.levelStarts = levelStarts
        self.capacity = capacity
    }

    /// Frees the memory of the set.
    @usableFromInline
    func deallocate() {
        words.deallocate()
    }

    /// The number of words of all levels.
    @usableFromInline
    var wordCount: Int {
        levelStarts[levelStarts.count - 1] + 1
    }

    /// Whether no index is free.
    @inlinable
    var isEmpty: Bool {
        words[levelStarts[levelStarts.count - 1]] == 0
    }

    /// Whether `index` is free.
    @inlinable
    func contains(_ index: Int) -> Bool {
        words[index &>> 6] & (1 &<< UInt64(truncatingIfNeeded: index & 63)) != 0
    }

    /// Marks `index` free.
    @inlinable
    func insert(_ index: Int) {
        // Level 0 starts at word 0; the levels above change once per 64 entries.
        let old = words[index &>> 6]
        words[index &>> 6] = old | 1 &<< UInt64(truncatingIfNeeded: index & 63)
        if old == 0 { insertSummaries(index) }
    }

    /// Marks the word of `index` non-empty in the levels above level 0.
    @usableFromInline
    func insertSummaries(_ index: Int) {
        var position = index &>> 6
        for start in levelStarts.dropFirst() {
            let word = start &+ position &>> 6
            let old = words[word]
            words[word] = old | 1 &<< UInt64(truncatingIfNeeded: position & 63)
            if old != 0 { return }
            position &>>= 6
        }
    }

    /// Takes the lowest free index out of the set, or returns `nil` if none is free.
    @inlinable
    func removeLowest() -> Int? {
        let levels = levelStarts.count
        var position = 0
        var level = levels &- 1
        while level >= 0 {
            let word = words[levelStarts[level] &+ position]
            if word == 0 { return nil }  // only the top word can be zero here
            position = position &<< 6 | word.trailingZeroBitCount
            level &-= 1
        }
        let index = position
        for start in levelStarts {
            let word = start &+ position &>> 6
            let remaining = words[word] & ~(1 &<< UInt64(truncatingIfNeeded: position & 63))
            words[word] = remaining
            if remaining != 0 { break }
            position &>>= 6
        }
        return index
    }

    /// Copies the level-0 bits of `other`, a set of at most this capacity; then
    /// call ``rebuildSummaries()``.
    @usableFromInline
    func copyBits(from other: SlabFreeSet) {
        words.update(from: other.words, count: (other.capacity + 63) / 64)
    }

    /// Marks every index in `range` free; then call ``rebuildSummaries()``.
    @usableFromInline
    func insertWithoutSummaries(_ range: Range<Int>) {
        for index in range {
            words[index >> 6] |= 1 << UInt64(index & 63)
        }
    }

    /// Recomputes every level above level 0 from the level below it.
    @usableFromInline
    func rebuildSummaries() {
        for level in 1..<levelStarts.count {
            let below = levelStarts[level - 1]
            let belowCount = levelStarts[level] - below
            let start = levelStarts[level]
            let count = level + 1 < levelStarts.count ? levelStarts[level + 1] - start : 1
            (words + start).update(repeating: 0, count: count)
            for word in 0..<belowCount where words[below + word] != 0 {
                words[start + word >> 6] |= 1 << UInt64(word & 63)
            }
        }
    }

    /// Checks that every summary bit matches the level below; traps otherwise.
    @usableFromInline
    func checkSummaries() {
        for level in 1..<levelStarts.count {
            let below = levelStarts[level - 1]
            let belowCount = levelStarts[level] - below
            for word in 0..<belowCount {
                let marked = words[levelStarts[level] + word >> 6] & (1 << UInt64(word & 63)) != 0
                precondition(marked == (words[below + word] != 0), "free set summary \(level)/\(word) is stale")
            }
        }
        let lastWord = (capacity + 63) / 64 - 1
        if capacity % 64 != 0 && lastWord >= 0 {
            precondition(words[lastWord] >> UInt64(capacity % 64) == 0, "free set marks an index past capacity")
        }
    }
}
