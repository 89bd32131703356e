/// When the sparse linear kernel beats oneDNN's dense `sgemm`, as measured by
/// `modelsmith-bench prune` (Benchmarks/Sources/modelsmith-bench/PruneBenchmark.swift) on the
/// reference machine (Zen 5, AVX-512, one thread). See docs/benchmarks.md, "Pruning".
///
/// The threshold depends on the batch (the sparse kernel works on tiles of 16 batch rows) and on
/// whether the dense weight stays in cache (small layers: dense is cheap, sparse must be sparser).
public enum SparseBreakEven {
    /// A dense weight larger than this no longer sits in L2 and dense becomes memory-bound.
    public static let largeWeightBytes = 2 << 20

    /// The lowest sparsity at which sparse beat the session's dense kernel (oneDNN matmul with a
    /// packed weight) in the sweep 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, by batch:
    ///
    ///                                         batch 1   2…16   17…64+
    static let large: (Double, Double, Double) = (0.70, 0.80, 0.90)  // 4096×4096 measured: 0.70, 0.80, 0.90
    static let small: (Double, Double, Double) = (0.90, 0.90, 0.85)  // 512×512 measured: 0.85 (1.00×), 0.80, 0.80 (1.01×)
    // Batches 2…15 are not measured: they pay for a whole 16-row tile while dense gets cheaper, so
    // they take the stricter of the batch-1 and batch-16 thresholds; break-evens measured at ≈1.00×
    // are moved one step up.

    /// The sparsity above which the sparse kernel is used for a `rows × cols` f32 weight at `batch`.
    public static func threshold(rows: Int, cols: Int, batch: Int) -> Double {
        let row = rows * cols * 4 > largeWeightBytes ? large : small
        switch batch {
        case ...1: return row.0
        case 2...16: return row.1
        default: return row.2
        }
    }

    /// Whether the sparse kernel is expected to be faster than dense for this weight and batch.
    public static func prefersSparse(sparsity: Double, rows: Int, cols: Int, batch: Int) -> Bool {
        sparsity >= threshold(rows: rows, cols: cols, batch: batch)
    }

    // MARK: INT8 (sparse u8×s8 product vs oneDNN's, `SparseInt8` vs `Int8Matmul`)

    /// The sparsity from which the sparse INT8 product beats oneDNN's for an s8 weight
    /// `rows × cols` and `m` input rows (batch × rows per sample; a conv's chunk of patches);
    /// nil where it never won in the sweep 0.5 … 0.98 (the dense kernel then always runs).
    ///
    /// Measured (sweep 0.5 … 0.98, 1 thread, `modelsmith-bench prune --only int8`): the sparse
    /// product pays a fixed step per 128-column chunk of every row and batch row, so it wins only
    /// where the dense product is memory-bound and the weight nearly empty — a 4096×4096 weight at
    /// batch 1 from 0.98 (1.12×; 0.90–0.95 measured at 0.94–1.40× across runs, so not bound).
    /// 4096×4096 at batch 16 and 64, 512×512 at 1/16/64, and the conv products (32×144, 64×576,
    /// 256×2304 at 49…4096 rows) never won (≤ 0.83×).
    public static func int8Threshold(rows: Int, cols: Int, m: Int) -> Double? {
        rows * cols > 4 * largeWeightBytes && m == 1 ? 0.98 : nil
    }

    public static func prefersSparseInt8(sparsity: Double, rows: Int, cols: Int, m: Int) -> Bool {
        int8Threshold(rows: rows, cols: cols, m: m).map { sparsity >= $0 } ?? false
    }

    // MARK: FP32 conv (`SparseConv2d` vs oneDNN's `Conv2d`)

    /// The sparsity from which the sparse conv (im2col + sparse product) beats oneDNN's
    /// convolution for a groups-1 conv `g` at `batch`; nil where it never won in the sweep.
    ///
    /// Measured (batch 1 / 64): 16→32 3×3 on 8×8 (4,608 weights) 0.70 (1.02×) / 0.50 (2.1×: the
    /// lowest point swept); 64→64 3×3 on 28×28 (36,864) 0.70 / 0.70; 256→256 3×3 on 7×7 (589,824)
    /// 0.80 / 0.80. Classed by weight size; a break-even at ≈1.00× moves one step up, and
    /// batches 2…63 (not measured) take the stricter of the batch-1 and batch-64 thresholds.
    public static func convThreshold(geometry g: Conv2dGeometry, batch: Int) -> Double? {
        let weights = g.outChannels * (g.inChannels / max(g.groups, 1)) * g.kernel.h * g.kernel.w
        let (one, many): (Double, Double) = weights <= 8192 ? (0.80, 0.50) : weights <= 65536 ? (0.70, 0.70) : (0.80, 0.80)
        switch batch {
        case ...1: return one
        case 64...: return many
        default: return max(one, many)
        }
    }

    public static func prefersSparseConv(sparsity: Double, geometry: Conv2dGeometry, batch: Int) -> Bool {
        guard geometry.groups == 1 else { return false }
        return convThreshold(geometry: geometry, batch: batch).map { sparsity >= $0 } ?? false
    }
}
