import XCTest
import TensorCore
import TestSupport
@testable import Kernels

/// The sparse conv (im2col + sparse × columns) in every variant against the direct double-precision
/// convolution and against oneDNN's dense conv, within `SparseLinear.tolerance` of Σ|w·x| per output.
final class SparseConv2dTests: XCTestCase {
    private func prunedWeight(_ shape: [Int], sparsity: Double, seed: UInt64) -> Tensor {
        var rng = SeededRNG(seed: seed)
        let values = (0..<shape.reduce(1, *)).map { _ -> Float in
            let v: Float = rng.uniform(-1, 1)
            return Double(rng.uniform(0, 1) as Float) < sparsity ? 0 : v
        }
        return Tensor(values, shape: Shape(shape))
    }

    /// The exact conv (`Conv2d.reference`) and the per-output bound tolerance · (Σ|w|·|x| + |b|).
    private func exact(_ g: Conv2dGeometry, _ x: Tensor, _ w: Tensor, _ b: Tensor, relu: Bool) -> (values: [Float], bound: [Float]) {
        let batch = x.shape[0]
        let count = batch * g.outChannels * g.outHeight * g.outWidth
        var values = [Float](repeating: 0, count: count), magnitude = values
        x.withUnsafeBufferPointer(of: Float.self) { xs in
            Conv2d.reference(batch: batch, geometry: g, input: xs.baseAddress!, weight: w, bias: b, postOp: relu ? .relu : .none, output: &values)
        }
        let absX = x.floats.map(abs)
        absX.withUnsafeBufferPointer { xs in
            Conv2d.reference(batch: batch, geometry: g, input: xs.baseAddress!, weight: Tensor(w.floats.map(abs), shape: w.shape),
                             bias: Tensor(b.floats.map(abs), shape: b.shape), postOp: .none, output: &magnitude)
        }
        return (values, magnitude.map { SparseLinear.tolerance * $0 + Float.leastNormalMagnitude })
    }

    private func assertWithinBound(_ actual: [Float], _ expected: (values: [Float], bound: [Float]), _ label: String) {
        XCTAssertEqual(actual.count, expected.values.count, label)
        for i in actual.indices where !(abs(actual[i] - expected.values[i]) <= expected.bound[i]) {
            return XCTFail("\(label): output \(i) is \(actual[i]), exact \(expected.values[i]), bound \(expected.bound[i])")
        }
    }

    /// 3×3 padded, strided + dilated, 1×1 (no im2col), odd output widths around the 16/64-lane blocks.
    func testEveryVariantMatchesTheExactConvolution() throws {
        let shapes = [
            Conv2dGeometry(inChannels: 3, inHeight: 9, inWidth: 11, outChannels: 5, kernel: (3, 3), padding: (1, 1)),
            Conv2dGeometry(inChannels: 4, inHeight: 13, inWidth: 10, outChannels: 6, kernel: (3, 2), stride: (2, 1), padding: (2, 0), dilation: (2, 1)),
            Conv2dGeometry(inChannels: 8, inHeight: 5, inWidth: 7, outChannels: 3, kernel: (1, 1)),
            Conv2dGeometry(inChannels: 16, inHeight: 8, inWidth: 8, outChannels: 32, kernel: (3, 3), padding: (1, 1)),
        ]
        for (n, g) in shapes.enumerated() {
            for sparsity in [0.0, 0.8, 1.0] {
                let w = prunedWeight([g.outChannels, g.inChannels, g.kernel.h, g.kernel.w], sparsity: sparsity, seed: UInt64(n))
                let b = randomTensor([g.outChannels], seed: 2)
                let x = randomTensor([3, g.inChannels, g.inHeight, g.inWidth], seed: 3)
                for relu in [false, true] {
                    let conv = try SparseConv2d(geometry: g, weight: w, bias: b, postOp: relu ? .relu : .none)
                    XCTAssertEqual(conv.isPointwise, g.kernel == (1, 1))
                    let expected = exact(g, x, w, b, relu: relu)
                    for isa in SparseISA.allCases where isa.isSupported {
                        assertWithinBound(conv.run(input: x, isa: isa).floats, expected, "\(isa) conv \(n) sparsity \(sparsity) relu \(relu)")
                    }
                }
            }
        }
    }

    func testSparseAgreesWithTheDenseConv() throws {
        let g = Conv2dGeometry(inChannels: 16, inHeight: 8, inWidth: 8, outChannels: 32, kernel: (3, 3), padding: (1, 1))
        let w = prunedWeight([32, 16, 3, 3], sparsity: 0.9, seed: 5), b = randomTensor([32], seed: 6)
        let x = randomTensor([4, 16, 8, 8], seed: 7)
        let dense = try Conv2d(geometry: g, weight: w, bias: b, postOp: .relu)
        var y = [Float](repeating: 0, count: 4 * 32 * 64)
        try x.withUnsafeBufferPointer(of: Float.self) { try dense.run(batch: 4, input: $0.baseAddress!, output: &y, context: ExecutionContext()) }
        let expected = exact(g, x, w, b, relu: true)
        assertWithinBound(y, expected, "dense")
        assertWithinBound(try SparseConv2d(geometry: g, weight: w, bias: b, postOp: .relu).run(input: x).floats, expected, "sparse")
    }

    func testGroupedConvIsRefused() {
        let g = Conv2dGeometry(inChannels: 4, inHeight: 5, inWidth: 5, outChannels: 4, kernel: (3, 3), groups: 2)
        XCTAssertThrowsError(try SparseConv2d(geometry: g, weight: Tensor(zeros: .f32, [4, 2, 3, 3]), bias: nil)) { error in
            XCTAssertEqual("\(error)".contains("groups 1"), true, "\(error)")
        }
    }
}
