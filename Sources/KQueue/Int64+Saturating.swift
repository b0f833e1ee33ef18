/// Nanosecond arithmetic that clamps to the representable range instead of trapping:
/// deadlines near `Int64.max` ("never") and timeouts of any size stay meaningful.
extension Int64 {
    /// `other - self`, clamped to `Int64.min ... Int64.max`.
    package func distanceSaturating(to other: Int64) -> Int64 {
        let (difference, overflow) = other.subtractingReportingOverflow(self)
        return overflow ? (other > self ? .max : .min) : difference
    }

    /// `self + other`, clamped to `Int64.min ... Int64.max`.
    package func addingSaturating(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}
