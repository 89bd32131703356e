import XCTest
import TestSupport
import TensorCore
@testable import Kernels

/// Every sparse variant against the scalar reference and against the dense kernel, under
/// `SparseLinear.tolerance` (relative to Σ|w·x| per output).
final class SparseLinearTests: XCTestCase {
    /// A random [rows, cols] weight with about `sparsity` of its entries zeroed (seeded).
    private func prunedWeight(rows: Int, cols: Int, sparsity: Double, seed: UInt64) -> Tensor {
        var rng = SeededRNG(seed: seed)
        let values = (0..<rows * cols).map { _ -> Float in
            let v: Float = rng.uniform(-1, 1)
            return Double(rng.uniform(0, 1) as Float) < sparsity ? 0 : v
        }
        return Tensor(values, shape: [rows, cols])
    }

    /// The exact product (double accumulation) and the per-output error bound tolerance · Σ|w·x|.
    private func exact(_ w: Tensor, _ x: Tensor, _ bias: Tensor) -> (values: [Float], bound: [Float]) {
        let (rows, cols, batch) = (w.shape[0], w.shape[1], x.shape[0])
        let ws = w.floats, xs = x.floats, bs = bias.floats
        var values = [Float](), bound = [Float]()
        for i in 0..<batch {
            for r in 0..<rows {
                var sum = Double(bs[r]), magnitude = Double(abs(bs[r]))
                for c in 0..<cols {
                    sum += Double(ws[r * cols + c]) * Double(xs[i * cols + c])
                    magnitude += abs(Double(ws[r * cols + c]) * Double(xs[i * cols + c]))
                }
                values.append(Float(sum))
                bound.append(SparseLinear.tolerance * Float(magnitude) + Float.leastNormalMagnitude)
            }
        }
        return (values, bound)
    }

    private func assertWithinBound(_ actual: [Float], _ expected: (values: [Float], bound: [Float]), _ label: String) {
        XCTAssertEqual(actual.count, expected.values.count, label)
        for i in actual.indices where !(abs(actual[i] - expected.values[i]) <= expected.bound[i]) {
            return XCTFail("\(label): output \(i) is \(actual[i]), exact \(expected.values[i]), bound \(expected.bound[i])")
        }
    }

    func testCSRHoldsExactlyTheNonZeros() {
        let w = Tensor([0, 2, 0, -0.0, 3, 0, 0, 0, 4], shape: [3, 3])
        let csr = SparseMatrix(weight: w)
        XCTAssertEqual(csr.rowStart, [0, 1, 2, 3])
        XCTAssertEqual(csr.columns, [1, 1, 2])
        XCTAssertEqual(csr.values, [2, 3, 4])
        XCTAssertEqual(csr.sparsity, 6.0 / 9.0, accuracy: 1e-12)
    }

    /// Batch sizes around the 16-row tile (1, remainders, several tiles) and row lengths around the
    /// 16/32-entry gather blocks, for every variant this CPU runs.
    func testEveryVariantMatchesTheExactProduct() {
        for (rows, cols, sparsity) in [(37, 53, 0.9), (16, 700, 0.5), (5, 64, 0.0), (9, 33, 1.0)] {
            let w = prunedWeight(rows: rows, cols: cols, sparsity: sparsity, seed: UInt64(rows * cols))
            let bias = randomTensor([rows], seed: 7)
            let matrices = [SparseMatrix(weight: w), SparseMatrix(weight: w, narrowIndices: true)]
            XCTAssertEqual(matrices.map(\.isNarrow), [false, true])
            XCTAssertEqual(matrices[0].columns, matrices[1].columns)
            for batch in [1, 2, 15, 16, 17, 33] {
                let x = randomTensor([batch, cols], seed: UInt64(batch))
                let expected = exact(w, x, bias)
                for isa in SparseISA.allCases where isa.isSupported {
                    for csr in matrices {
                        let y = SparseLinear.forward(weight: csr, x: x, bias: bias, isa: isa)
                        assertWithinBound(y.floats, expected, "\(isa) [\(rows)x\(cols)] narrow \(csr.isNarrow) sparsity \(sparsity) batch \(batch)")
                    }
                }
            }
        }
        XCTAssertTrue(SparseISA.scalar.isSupported)
    }

    /// The sparse layer agrees with the dense FP32 kernel (oneDNN sgemm) on the same pruned weight.
    func testSparseAgreesWithTheDenseKernel() {
        let (rows, cols, batch) = (64, 256, 5)
        let w = prunedWeight(rows: rows, cols: cols, sparsity: 0.8, seed: 3)
        let x = randomTensor([batch, cols], seed: 4), bias = randomTensor([rows], seed: 5)
        var dense = [Float](repeating: 0, count: batch * rows)
        for i in 0..<batch { for r in 0..<rows { dense[i * rows + r] = bias.floats[r] } }
        Gemm.sgemm(transA: false, transB: true, m: batch, n: rows, k: cols, a: x.floats, lda: cols, b: w.floats, ldb: cols,
                   beta: 1, c: &dense, ldc: rows)
        let expected = exact(w, x, bias)
        assertWithinBound(dense, expected, "dense")
        assertWithinBound(SparseLinear.forward(weight: SparseMatrix(weight: w), x: x, bias: bias).floats, expected, "sparse \(SparseISA.best)")
    }
}
