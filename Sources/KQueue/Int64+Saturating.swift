/// Nanosecond arithmetic that clamps to the representable range instead of trapping, so that
/// deadlines near `Int64.max` ("never") and timeouts of any size stay meaningful, and that
/// rounds up when it converts to a coarser unit.
extension Int64 {
    /// `other - self`, clamped to `Int64.min ... Int64.max`.
    package func distanceSaturating(to other: Int64) -> Int64 {
        let (difference, overflow) = other.subtractingReportingOverflow(self)
        return overflow ? (other > self ? .max : .min) : difference
    }

    /// `self / divisor`, rounded towards positive infinity (`divisor` > 0), without overflow:
    /// how many whole units of `divisor` cover `self`, for a kernel that counts in coarser
    /// units than nanoseconds. A duration becomes a kernel value rounded up, never down.
    package func dividedRoundingUp(by divisor: Int64) -> Int64 {
        precondition(divisor > 0, "dividedRoundingUp(by:) needs a positive divisor")
        let (quotient, remainder) = quotientAndRemainder(dividingBy: divisor)
        return remainder > 0 ? quotient + 1 : quotient
    }

    /// `self + other`, clamped to `Int64.min ... Int64.max`.
    package func addingSaturating(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}
