/// SplitMix64: small, fast and the same on every platform, so that every implementation sees
/// exactly the same deadlines for a given seed (42 in every workload).
struct SeededRandom: RandomNumberGenerator {
    static let defaultSeed: UInt64 = 42

    private var state: UInt64

    init(seed: UInt64 = SeededRandom.defaultSeed) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` offsets drawn uniformly from `range`.
    mutating func uniform(_ count: Int, in range: ClosedRange<Int64>) -> [Int64] {
        (0..<count).map { _ in Int64.random(in: range, using: &self) }
    }

    /// `0..<count` in a shuffled order.
    mutating func permutation(_ count: Int) -> [Int] {
        var order = Array(0..<count)
        order.shuffle(using: &self)
        return order
    }
}
