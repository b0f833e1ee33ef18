import Synchronization

#if canImport(Glibc)
@preconcurrency import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whether each one-shot timer of a loop's wheel is still pending, in memory any thread can
/// reach: what lets `cancel()` on another thread decide, without a lock and without waiting
/// for the loop, whether it kept the timer from firing.
///
/// One 64-bit word per wheel entry holds the generation of the timer in it and whether that
/// timer is pending. The loop's thread arms the word when it schedules a timer and claims it
/// (an atomic exchange) when the timer is due; another thread's cancel claims it with a
/// compare-and-swap. Whoever claims a pending word decides: the loop runs the callback, or the
/// cancel returns true and the callback never starts. The generation makes a stale handle's
/// claim fail once the entry holds another timer.
///
/// On the loop's own thread a cancel needs no atomic read-modify-write and no load: the wheel
/// says whether the timer is pending, and the loop stores the settled word, because it never
/// races itself. (A cancel on the loop and a cancel of the same timer from another thread in
/// the same turn of the loop can therefore both return true; neither is followed by the
/// callback.)
///
/// Words live in chunks of 65,536 that never move, found through a directory of 65,536
/// chunks allocated up front (512 KiB of address space, of which only touched pages take
/// memory), so another thread can read a word while the loop adds chunks.
final class TimerBoard: @unchecked Sendable {
    // @unchecked: the directory and chunks are reached only through atomics; chunks are
    // published (release) before any timer in them is handed out.
    private static let chunkShift = 16
    private static let chunkSize = 1 << chunkShift
    private static let directorySize = 1 << 16

    private let directory: UnsafeMutablePointer<Atomic<UInt>>

    init() {
        let raw = calloc(Self.directorySize, MemoryLayout<Atomic<UInt>>.stride)
        guard let raw else { fatalError("TimerBoard: out of memory") }
        // Zeroed memory is a valid array of atomics holding 0 (no chunk).
        directory = raw.assumingMemoryBound(to: Atomic<UInt>.self)
    }

    private static func pending(_ id: TimerID) -> UInt64 {
        UInt64(id.generation) << 1 | 1
    }

    private static func settled(_ id: TimerID) -> UInt64 {
        UInt64(id.generation) << 1
    }

    /// The word of entry `index`, or nil if its chunk does not exist yet.
    @inline(__always)
    private func word(_ index: UInt32) -> UnsafeMutablePointer<Atomic<UInt64>>? {
        let chunk = directory[Int(index) >> Self.chunkShift].load(ordering: .acquiring)
        guard chunk != 0 else { return nil }
        let words = UnsafeMutablePointer<Atomic<UInt64>>(bitPattern: chunk).unsafelyUnwrapped
        return words + (Int(index) & (Self.chunkSize - 1))
    }

    /// The loop's thread: marks a just-scheduled timer pending.
    @inline(__always)
    func arm(_ id: TimerID) {
        let word = self.word(id.index) ?? addChunk(for: id.index)
        word.pointee.store(Self.pending(id), ordering: .releasing)
    }

    private func addChunk(for index: UInt32) -> UnsafeMutablePointer<Atomic<UInt64>> {
        let slot = Int(index) >> Self.chunkShift
        guard let raw = calloc(Self.chunkSize, MemoryLayout<Atomic<UInt64>>.stride) else {
            fatalError("TimerBoard: out of memory")
        }
        directory[slot].store(UInt(bitPattern: raw), ordering: .releasing)
        return raw.assumingMemoryBound(to: Atomic<UInt64>.self) + (Int(index) & (Self.chunkSize - 1))
    }

    /// The loop's thread: settles a timer it took off the wheel itself. A plain store: the
    /// word's cache line need not be read first, so a cancel costs the wheel's cache misses only.
    @inline(__always)
    func settleOnLoop(_ id: TimerID) {
        word(id.index)?.pointee.store(Self.settled(id), ordering: .releasing)
    }

    /// The loop's thread: claims a due timer.
    ///
    /// - Returns: whether it was still pending (run it); false if another thread cancelled it.
    @inline(__always)
    func claim(_ id: TimerID) -> Bool {
        guard let word = word(id.index) else { return false }
        return word.pointee.exchange(Self.settled(id), ordering: .acquiringAndReleasing) == Self.pending(id)
    }

    /// Any thread: cancels a pending timer.
    ///
    /// - Returns: whether this call settled it.
    func cancel(_ id: TimerID) -> Bool {
        guard let word = word(id.index) else { return false }
        return word.pointee.compareExchange(
            expected: Self.pending(id),
            desired: Self.settled(id),
            ordering: .acquiringAndReleasing
        ).exchanged
    }

    /// Any thread: whether the timer is pending.
    func isPending(_ id: TimerID) -> Bool {
        word(id.index)?.pointee.load(ordering: .acquiring) == Self.pending(id)
    }
}
