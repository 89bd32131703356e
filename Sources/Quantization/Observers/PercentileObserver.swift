/// Clips at the `percentile`-th percentile of |x| (TensorRT's recommendation for BERT,
/// pytorch-quantization's `percentile`): with 99.99, the largest 0.01 % of magnitudes are clipped.
/// The quantile is interpolated linearly inside its histogram bin; the range is
/// `[max(min, −t), min(max, t)]`.
public struct PercentileObserver: HistogramObserver {
    public static let defaultPercentile = 99.99
    public var histogram: Histogram
    public let percentile: Double

    /// `percentile` in (0, 100]; validated by `CalibrationMethod`.
    public init(percentile: Double = PercentileObserver.defaultPercentile, histogram: Histogram = Histogram()) {
        self.percentile = percentile
        self.histogram = histogram
    }

    public func range() -> (min: Float, max: Float) {
        guard !histogram.isEmpty else { return (0, 0) }
        return histogram.clipRange(magnitude: histogram.magnitudeQuantile(percentile / 100))
    }
}
