import XCTest
import TensorCore
import TestSupport
@testable import Quantization

final class QuantSchemeTests: XCTestCase {
    /// u8: s = (3 − (−1))/255, z = round(1/s) = round(63.75) = 64.
    func testAsymmetricU8Parameters() {
        let p = QuantScheme().activationParameters(min: -1, max: 3)
        XCTAssertEqual(p.scale, 4 / 255, accuracy: 1e-9)
        XCTAssertEqual(p.zeroPoint, 64)
        // A ReLU output range [0.5, 2] is widened to contain 0: z = 0.
        let relu = QuantScheme().activationParameters(min: 0.5, max: 2)
        XCTAssertEqual(relu.scale, 2 / 255, accuracy: 1e-9)
        XCTAssertEqual(relu.zeroPoint, 0)
    }

    func testSymmetricI8Parameters() {
        let p = QuantScheme(activationType: .i8).activationParameters(min: -1, max: 3)
        XCTAssertEqual(p.scale, 3 / 127, accuracy: 1e-9)
        XCTAssertEqual(p.zeroPoint, 0)
    }

    func testDegenerateActivationRange() {
        XCTAssertTrue(QuantScheme().activationParameters(min: 0, max: 0) == (1, 0))
        XCTAssertTrue(QuantScheme(activationType: .i8).activationParameters(min: 0, max: 0) == (1, 0))
        let constant = QuantScheme().activationParameters(min: 5, max: 5)
        XCTAssertEqual(constant.scale, 5 / 255, accuracy: 1e-9)
        XCTAssertEqual(QuantScheme().fakeQuantize(5, scale: constant.scale, zeroPoint: constant.zeroPoint), 5, accuracy: 1e-6)
    }

    /// Per channel: row 0 max 2 → s = 2/127, row 1 all zero → s = 1, codes 0; ties round to even.
    /// The vectorizable rounding equals `rounded(.toNearestOrEven)` on every quarter and every tie in
    /// the weight code range, and on random values; the weight codes equal the plain formula.
    func testWeightRoundingEqualsTiesToEven() {
        var rng = SeededRNG(seed: 4)
        let values = stride(from: Float(-130), through: 130, by: 0.25).map { $0 } + (0..<10_000).map { _ in rng.uniform(-128, 128) }
        for v in values { XCTAssertEqual(QuantScheme.roundToEven(v), v.rounded(.toNearestOrEven), "\(v)") }
        let weight = randomTensor([7, 33], seed: 9)
        let q = QuantScheme().quantizeWeight(weight)
        let w = weight.floats, codes = q.integers
        for i in w.indices {
            let scale = q.quant!.scales[i / 33]
            XCTAssertEqual(codes[i], Int(max(min((w[i] / scale).rounded(.toNearestOrEven), 127), -127)), "\(i)")
        }
    }

    func testPerChannelWeights() {
        let w = Tensor([2, -1, 0.5, 0, 0, 0], shape: [2, 3])
        let q = QuantScheme().quantizeWeight(w)
        XCTAssertEqual(q.dtype, .i8)
        XCTAssertEqual(q.quant?.axis, 0)
        XCTAssertEqual(q.quant!.scales[0], 2 / 127, accuracy: 1e-9)
        XCTAssertEqual(q.quant!.scales[1], 1)
        XCTAssertEqual(q.integers, [127, -64, 32, 0, 0, 0])  // −63.5 → −64, 31.75 → 32
        XCTAssertNil(closenessFailure(q.floats, w.floats, rtol: 0, atol: 2 / 127 / 2 + 1e-7))
    }

    func testPerTensorAndSevenBitWeights() {
        let w = Tensor([2, -1.1, 0.5, 0.25], shape: [2, 2])
        let q = QuantScheme(perChannelWeights: false, weightBits: 7).quantizeWeight(w)
        XCTAssertNil(q.quant?.axis)
        XCTAssertEqual(q.quant!.scales, [2 / 63])
        XCTAssertEqual(q.integers, [63, -35, 16, 8])  // −34.65 → −35, 15.75 → 16, 7.875 → 8
    }
}

import TestSupport
