import Histogram

/// Lateness percentiles of a set of timer expiries, from an HdrHistogram of nanoseconds.
/// Early expiries (negative lateness) are counted by the sinks and recorded here as 0.
struct LatenessStatistics {
    private(set) var histogram = Histogram<UInt64>(
        lowestDiscernibleValue: 1,
        highestTrackableValue: 3_600 * 1_000_000_000,
        numberOfSignificantValueDigits: .three
    )

    init<S: Sequence>(nanoseconds: S) where S.Element == Int64 {
        histogram.autoResize = true
        for value in nanoseconds where value != FireSink.notFired {
            histogram.record(UInt64(max(value, 0)))
        }
    }

    var count: Int { Int(histogram.totalCount) }

    /// Lateness at `percentile` (0...100), microseconds.
    func microseconds(atPercentile percentile: Double) -> Double {
        count == 0 ? 0 : Double(histogram.valueAtPercentile(percentile)) / 1_000
    }

    var maxMicroseconds: Double { count == 0 ? 0 : Double(histogram.max) / 1_000 }

    /// Points (percentile, lateness µs) of the distribution, for the `--plot` picture: percentiles the
    /// sample size resolves (1 − p ≥ 1/count), then the maximum at 100.
    func curve() -> [[Double]] {
        guard count > 0 else { return [] }
        let resolved = 100 * (1 - 1 / Double(count))
        var points: [[Double]] = []
        for step in histogram.percentiles(ticksPerHalfDistance: 5) {
            let percentile = step.percentileLevelIteratedTo
            guard percentile <= resolved, percentile < 100 else { break }
            points.append([percentile, Double(step.value) / 1_000])
        }
        points.append([100, maxMicroseconds])
        return points
    }
}
