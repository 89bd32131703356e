import Histogram

/// Latencies recorded one by one and summarised as percentiles (`bench`, `bench --server`).
///
/// Values go into an HdrHistogram at nanosecond resolution with three significant digits, so a
/// percentile is exact to 0.1% and memory stays bounded however long a run lasts.
public struct LatencyRecorder: Sendable {
    private var histogram = Histogram<UInt64>(highestTrackableValue: 3_600_000_000_000, numberOfSignificantValueDigits: .three)
    private var totalNanoseconds: Double = 0

    public init() { histogram.autoResize = true }

    public mutating func record(nanoseconds: UInt64) {
        _ = histogram.record(max(1, nanoseconds))
        totalNanoseconds += Double(nanoseconds)
    }

    /// Adds every value another recorder holds (say, one per connection).
    public mutating func merge(_ other: LatencyRecorder) {
        histogram.add(other.histogram)
        totalNanoseconds += other.totalNanoseconds
    }

    public var count: Int { Int(histogram.totalCount) }

    /// p50/p90/p99/p99.9, mean and max in milliseconds; all zero when nothing was recorded.
    public var summary: LatencySummary {
        guard count > 0 else { return LatencySummary(count: 0, p50: 0, p90: 0, p99: 0, p999: 0, mean: 0, max: 0) }
        func ms(_ percentile: Double) -> Double { Double(histogram.valueAtPercentile(percentile)) / 1e6 }
        return LatencySummary(count: count, p50: ms(50), p90: ms(90), p99: ms(99), p999: ms(99.9),
                              mean: totalNanoseconds / Double(count) / 1e6, max: Double(histogram.max) / 1e6)
    }
}

/// A latency distribution in milliseconds.
public struct LatencySummary: Sendable, Equatable {
    public var count: Int
    public var p50: Double, p90: Double, p99: Double, p999: Double
    public var mean: Double, max: Double

    public init(count: Int, p50: Double, p90: Double, p99: Double, p999: Double, mean: Double, max: Double) {
        self.count = count
        self.p50 = p50
        self.p90 = p90
        self.p99 = p99
        self.p999 = p999
        self.mean = mean
        self.max = max
    }
}
