#if os(Linux) && !KQUEUE_LIBKQUEUE

/// A growable array whose elements never move: they live in segments of 1,024, and growing
/// adds a segment instead of copying every element into a buffer twice as large.
///
/// The knotes and the armed timers of a queue grow one registration at a time, to hundreds of
/// thousands. A doubling array touches about twice the memory it ends up with (each growth
/// copies everything into fresh pages), and every fresh page is a page fault: a few
/// microseconds in a virtual machine, more than the rest of a registration. A segment is
/// allocated at its full size but touched only as it fills.
///
/// - Complexity: subscript, `append` and `removeLast` are O(1).
struct SegmentedArray<Element> {
    private static var segmentShift: Int { 10 }
    private static var segmentCapacity: Int { 1 << segmentShift }
    private static var offsetMask: Int { segmentCapacity - 1 }

    /// Every segment is full but the last one or two: an emptied last segment is kept, so that
    /// appending and removing across a segment boundary does not allocate each time.
    private var segments: [ContiguousArray<Element>] = []
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    /// An index out of range traps in the segments' own bounds checks: a negative one or one
    /// past the last segment in the outer array, one past `count` in the last segment.
    subscript(index: Int) -> Element {
        _read { yield segments[index >> Self.segmentShift][index & Self.offsetMask] }
        _modify { yield &segments[index >> Self.segmentShift][index & Self.offsetMask] }
    }

    mutating func append(_ element: Element) {
        let segment = count >> Self.segmentShift
        if segment == segments.count {
            var fresh = ContiguousArray<Element>()
            fresh.reserveCapacity(Self.segmentCapacity)
            segments.append(fresh)
        }
        segments[segment].append(element)
        count += 1
    }

    /// Removes and returns the last element.
    ///
    /// - Precondition: the array is not empty.
    mutating func removeLast() -> Element {
        precondition(count > 0, "removeLast from an empty SegmentedArray")
        count -= 1
        let element = segments[count >> Self.segmentShift].removeLast()
        // Keep at most one empty segment past the used ones.
        let used = (count + Self.offsetMask) >> Self.segmentShift
        if segments.count > used + 1 { segments.removeLast() }
        return element
    }
}

extension SegmentedArray: Sendable where Element: Sendable {}
#endif
