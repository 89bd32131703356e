/// Chooses the magnitude threshold `t` that minimises the expected squared quantization error
/// (`Histogram.expectedSquaredError`: clipping and rounding error integrated over each bin) of quantizing to `levels` levels over
/// `[max(min, −t), min(max, t)]`. Candidates are every magnitude-bin upper edge and max|x|
/// itself; the smallest error wins (the smallest `t` on ties). Squared error weighs a few huge
/// outliers heavily, so MSE tends to keep them (see docs/quantization.md).
public struct MSEObserver: HistogramObserver {
    public var histogram: Histogram
    public let levels: Int

    /// `levels`: 256 for 8-bit activations.
    public init(levels: Int = 256, histogram: Histogram = Histogram()) {
        self.levels = levels
        self.histogram = histogram
    }

    public func range() -> (min: Float, max: Float) {
        guard !histogram.isEmpty else { return (0, 0) }
        let top = histogram.maxMagnitude
        guard top > 0 else { return (histogram.min, histogram.max) }
        let (magnitudes, width) = histogram.magnitudeCounts()
        var best = histogram.clipRange(magnitude: top)
        var bestError = histogram.expectedSquaredError(min: best.min, max: best.max, levels: levels)
        for j in 0..<magnitudes.count {
            let t = Float(Double(j + 1) * width)
            guard t < top else { break }
            let candidate = histogram.clipRange(magnitude: t)
            let error = histogram.expectedSquaredError(min: candidate.min, max: candidate.max, levels: levels)
            if error < bestError { (best, bestError) = (candidate, error) }
        }
        return best
    }
}
