import XCTest
import Kernels
import ModelGraph
import TensorCore
import TestSupport
@testable import ModelRuntime
@testable import Pruning

/// A pruned model runs through the session's sparse kernels where the break-even says so, and its
/// outputs equal an independent double-precision forward pass within `SparseLinear.tolerance`.
final class SparseSessionTests: XCTestCase {
    /// relu(x·W1ᵀ+b1) → relu(·W2ᵀ+b2) → ·W3ᵀ+b3 in double precision, plus Σ|terms| per output (the error scale).
    private func referenceLogits(_ p: ModelPackage, x: [Float], batch: Int) -> (logits: [Double], scale: [Double]) {
        var h = x.map(Double.init), scale = [Double](repeating: 0, count: x.count)
        for (layer, last) in [("fc1", false), ("fc2", false), ("fc3", true)] {
            let w = p.tensors["\(layer).weight"]!, b = p.tensors["\(layer).bias"]!.floats, ws = w.floats
            let (rows, cols) = (w.shape[0], w.shape[1])
            var out = [Double](repeating: 0, count: batch * rows), outScale = out
            for i in 0..<batch {
                for r in 0..<rows {
                    var sum = Double(b[r]), magnitude = abs(Double(b[r]))
                    for c in 0..<cols {
                        sum += Double(ws[r * cols + c]) * h[i * cols + c]
                        magnitude += abs(Double(ws[r * cols + c])) * (abs(h[i * cols + c]) + scale[i * cols + c])
                    }
                    out[i * rows + r] = last ? sum : max(sum, 0)
                    outScale[i * rows + r] = magnitude
                }
            }
            h = out
            scale = outScale
        }
        return (h, scale)
    }

    func testPrunedTeacherRunsSparseAndMatchesTheReference() throws {
        let teacher = GoldenFixtures.teacher
        let pruned = try teacher.pruned(["fc1.weight", "fc2.weight", "fc3.weight"], by: L1Unstructured(amount: .fraction(0.9)), scope: .global)
        let session = try Session(package: pruned, options: SessionOptions(maxBatch: 64))
        let sparseKernels = session.plan.steps.compactMap { $0.kernel as? SparseLinearKernel }
        // fc2 is 94.1% sparse, above every break-even of a 512×512 weight; fc1 (58%) and fc3 (84.5%) stay dense.
        XCTAssertEqual(sparseKernels.map { $0.sparse.matrix.rows }, [512])
        XCTAssertTrue(sparseKernels.allSatisfy { $0.usesSparse(batch: 1) && $0.usesSparse(batch: 64) })

        for batch in [1, 64] {
            let x = randomTensor([batch, 64], seed: UInt64(batch), lower: 0, upper: 16)  // digits pixels are 0…16
            let logits = try XCTUnwrap(try session.run(["x": x])["logits"]).floats
            let reference = referenceLogits(pruned, x: x.floats, batch: batch)
            for i in logits.indices where !(abs(Double(logits[i]) - reference.logits[i]) <= Double(SparseLinear.tolerance) * reference.scale[i] + 1e-6) {
                return XCTFail("batch \(batch) logit \(i): \(logits[i]) vs \(reference.logits[i]) (scale \(reference.scale[i]))")
            }
        }
    }
}
