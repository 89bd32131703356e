import XCTest
import TensorCore
import TestSupport
@testable import Kernels

/// Every fast kernel against its plain reference, under named tolerances.
final class KernelReferenceTests: XCTestCase {
    /// oneDNN f32 products vs the double-accumulating loops.
    static let libraryTolerance: Float = 2e-5
    /// libm transcendental kernels vs their reference (same code today: exact).
    static let transcendentalTolerance: Float = 1e-6

    func testDenseLinearMatchesReference() throws {
        for (batch, inF, outF, post) in [(1, 7, 5, PostOp.none), (13, 64, 33, .relu), (64, 128, 96, .none)] {
            let w = randomTensor([outF, inF], seed: 1), b = randomTensor([outF], seed: 2), x = randomTensor([batch, inF], seed: 3)
            for bias in [b, nil] as [Tensor?] {
                let dense = try DenseLinear(weight: w, bias: bias, postOp: post)
                var fast = [Float](repeating: .nan, count: batch * outF), slow = fast
                let context = try ExecutionContext()
                try x.withUnsafeBufferPointer(of: Float.self) { xs in
                    try dense.run(batch: batch, input: xs.baseAddress!, output: &fast, context: context)
                    DenseLinear.reference(batch: batch, input: xs.baseAddress!, weight: w, bias: bias, postOp: post, output: &slow)
                }
                XCTAssertNil(closenessFailure(fast, slow, rtol: Self.libraryTolerance, atol: Self.libraryTolerance), "\(batch)x\(inF)x\(outF)")
            }
        }
    }

    func testConv2dMatchesReference() throws {
        let cases = [
            Conv2dGeometry(inChannels: 3, inHeight: 9, inWidth: 8, outChannels: 4, kernel: (3, 3), padding: (1, 1)),
            Conv2dGeometry(inChannels: 4, inHeight: 7, inWidth: 7, outChannels: 6, kernel: (3, 2), stride: (2, 1), padding: (1, 0), dilation: (1, 2), groups: 2),
            Conv2dGeometry(inChannels: 8, inHeight: 5, inWidth: 5, outChannels: 8, kernel: (3, 3), padding: (1, 1), groups: 8),
        ]
        for (i, g) in cases.enumerated() {
            let w = randomTensor([g.outChannels, g.inChannels / g.groups, g.kernel.h, g.kernel.w], seed: 10)
            let b = randomTensor([g.outChannels], seed: 11)
            let batch = 3
            let x = randomTensor([batch, g.inChannels, g.inHeight, g.inWidth], seed: 12)
            let post: PostOp = i == 1 ? .relu : .none
            let conv = try Conv2d(geometry: g, weight: w, bias: b, postOp: post)
            let n = batch * g.outChannels * g.outHeight * g.outWidth
            var fast = [Float](repeating: .nan, count: n), slow = fast
            try x.withUnsafeBufferPointer(of: Float.self) { xs in
                try conv.run(batch: batch, input: xs.baseAddress!, output: &fast, context: try ExecutionContext())
                Conv2d.reference(batch: batch, geometry: g, input: xs.baseAddress!, weight: w, bias: b, postOp: post, output: &slow)
            }
            XCTAssertNil(closenessFailure(fast, slow, rtol: Self.libraryTolerance, atol: Self.libraryTolerance), "case \(i)")
        }
    }

    func testBadKernelShapesAreRefused() {
        XCTAssertThrowsError(try DenseLinear(weight: randomTensor([4], seed: 1), bias: nil)) {
            XCTAssertEqual("\($0)", "kernel shape: linear weight must be f32 [out, in], got f32 [4]")
        }
        let g = Conv2dGeometry(inChannels: 3, inHeight: 4, inWidth: 4, outChannels: 4, kernel: (3, 3), groups: 2)
        XCTAssertThrowsError(try Conv2d(geometry: g, weight: randomTensor([4, 1, 3, 3], seed: 1), bias: nil)) {
            XCTAssertEqual("\($0)", "kernel shape: conv2d groups 2 must divide in channels 3 and out channels 4")
        }
    }

    /// The SIMD arithmetic variants compute the same IEEE operations as the reference: bit-exact,
    /// at lengths around every vector width; the forced-portable path too.
    func testElementwiseVariantsAreBitExact() {
        for portable in [false, true] {
            Elementwise.forcePortable(portable)
            defer { Elementwise.forcePortable(false) }
            for n in [1, 7, 8, 15, 16, 17, 33, 100, 1000] {
                let a = randomTensor([n], seed: UInt64(n), lower: -3, upper: 3).floats
                let b = randomTensor([n], seed: UInt64(n + 1), lower: -3, upper: 3).floats
                var fast = [Float](repeating: .nan, count: n), slow = fast
                Elementwise.apply(.relu, a, &fast, count: n); Elementwise.reference(.relu, a, &slow, count: n)
                XCTAssertEqual(fast, slow, "relu \(n)")
                Elementwise.add(a, b, &fast, count: n); Elementwise.addReference(a, b, &slow, count: n)
                XCTAssertEqual(fast, slow, "add \(n)")
                Elementwise.mul(a, b, &fast, count: n); Elementwise.mulReference(a, b, &slow, count: n)
                XCTAssertEqual(fast, slow, "mul \(n)")
                let channels = 3, plane = n
                let x = randomTensor([2 * channels * plane], seed: 5).floats
                let scale = randomTensor([channels], seed: 6).floats, shift = randomTensor([channels], seed: 7).floats
                var y1 = [Float](repeating: .nan, count: x.count), y2 = y1
                Elementwise.channelAffine(x, &y1, batch: 2, channels: channels, planeSize: plane, scale: scale, shift: shift)
                Elementwise.channelAffineReference(x, &y2, batch: 2, channels: channels, planeSize: plane, scale: scale, shift: shift)
                XCTAssertEqual(y1, y2, "affine \(n)")
                for inner in [1, 3] {
                    let rows = randomTensor([4 * n * inner], seed: UInt64(n + 2), lower: -30, upper: 30).floats
                    var y1 = [Float](repeating: .nan, count: rows.count), y2 = y1
                    Normalization.softmax(rows, &y1, outer: 4, axisLength: n, inner: inner, log: false)
                    Normalization.softmaxReference(rows, &y2, outer: 4, axisLength: n, inner: inner, log: false)
                    XCTAssertNil(closenessFailure(y1, y2, rtol: Self.transcendentalTolerance, atol: Self.transcendentalTolerance), "softmax \(n) inner \(inner)")
                }
                for activation in Activation.allCases {
                    Elementwise.apply(activation, a, &fast, count: n); Elementwise.reference(activation, a, &slow, count: n)
                    XCTAssertNil(closenessFailure(fast, slow, rtol: Self.transcendentalTolerance, atol: Self.transcendentalTolerance), "\(activation) \(n)")
                }
            }
        }
        XCTAssertTrue(["avx512", "avx2", "portable"].contains(Elementwise.isa))
    }
}
