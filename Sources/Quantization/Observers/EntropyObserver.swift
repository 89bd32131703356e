import Foundation

/// TensorRT's entropy calibration, variant **`trt-mlperf`**: the procedure NVIDIA documents for
/// its MLPerf submissions (mlcommons inference_results_v4.1, closed/NVIDIA/documentation/
/// calibration.md), on our magnitude histogram (`Histogram.magnitudeCounts`, ≥ 1024 bins over
/// [0, max|x|]):
///
/// 1. Take the histogram of |x| and discard the first bin (it "typically contains a huge number
///    of noise activations", e.g. exact zeros after ReLU).
/// 2. For each candidate bin count `i` from `startBin` (128) to the number of bins: P is
///    `bins[0..<i]` with everything beyond folded into `P[i−1]`; Q maps `bins[0..<i]` (without
///    the folded tail) onto `quantizedBins` (127) equal coarse levels and spreads each level's
///    total uniformly over its source bins where P is non-zero.
/// 3. Both are normalised and `KL(P‖Q) = Σ p·log(p/q)` over p > 0. Where P has mass but Q has
///    none (TensorRT leaves empty-bin handling unspecified), q is taken as 1e-4 · (1/i), the
///    smoothing floor, so the divergence is large but finite.
/// 4. The first `i` with the smallest divergence wins; the threshold is the centre of bin `i−1`,
///    `(i − ½)·w`, or max|x| when no clipping (`i` = all bins) wins. The range is
///    `[max(min, −t), min(max, t)]`.
public struct EntropyObserver: HistogramObserver {
    public static let variant = "trt-mlperf"
    public var histogram: Histogram
    public let startBin: Int
    public let quantizedBins: Int

    public init(startBin: Int = 128, quantizedBins: Int = 127, histogram: Histogram = Histogram()) {
        self.startBin = startBin
        self.quantizedBins = quantizedBins
        self.histogram = histogram
    }

    public func range() -> (min: Float, max: Float) {
        guard !histogram.isEmpty else { return (0, 0) }
        var (bins, width) = histogram.magnitudeCounts()
        let n = bins.count
        guard n > startBin else { return histogram.clipRange(magnitude: histogram.maxMagnitude) }
        bins[0] = 0
        var tail = [Double](repeating: 0, count: n + 1)  // tail[i] = Σ bins[i...]
        for j in stride(from: n - 1, through: 0, by: -1) { tail[j] = tail[j + 1] + bins[j] }
        guard tail[0] > 0 else { return histogram.clipRange(magnitude: histogram.maxMagnitude) }

        var bestI = n, bestDivergence = Double.infinity
        var levelSum = [Double](repeating: 0, count: quantizedBins)
        var levelNonZero = [Int](repeating: 0, count: quantizedBins)
        bins.withUnsafeBufferPointer { b in
            for i in startBin...n {
                let divergence = klDivergence(b, count: i, tail: tail[i], levelSum: &levelSum, levelNonZero: &levelNonZero)
                if divergence < bestDivergence { (bestI, bestDivergence) = (i, divergence) }
            }
        }
        let t = bestI == n ? histogram.maxMagnitude : Float((Double(bestI) - 0.5) * width)
        return histogram.clipRange(magnitude: t)
    }

    private func klDivergence(_ bins: UnsafeBufferPointer<Double>, count i: Int, tail: Double,
                              levelSum: inout [Double], levelNonZero: inout [Int]) -> Double {
        for l in 0..<quantizedBins { levelSum[l] = 0; levelNonZero[l] = 0 }
        var pTotal = 0.0
        for j in 0..<i {
            let p = j == i - 1 ? bins[j] + tail : bins[j]
            pTotal += p
            let l = j * quantizedBins / i
            levelSum[l] += bins[j]
            if p > 0 { levelNonZero[l] += 1 }
        }
        let qTotal = pTotal - tail  // Q spreads the un-folded mass only
        guard pTotal > 0 else { return .infinity }
        let floor = 1e-4 / Double(i)
        var divergence = 0.0
        for j in 0..<i {
            let p = (j == i - 1 ? bins[j] + tail : bins[j]) / pTotal
            guard p > 0 else { continue }
            let l = j * quantizedBins / i
            var q = qTotal > 0 ? levelSum[l] / Double(levelNonZero[l]) / qTotal : 0
            if q <= 0 { q = floor }
            divergence += p * log(p / q)
        }
        return divergence
    }
}
