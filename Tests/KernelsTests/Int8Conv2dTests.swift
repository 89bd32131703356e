import Kernels
import TensorCore
import XCTest

/// oneDNN's int8 convolution (`Int8Conv2d`) against the plain convolution loop on `q − z`:
/// `Σ (q − z)·w` with padding as real 0, for grouped, depthwise and 1×1 geometries. Without VNNI
/// it must refuse rather than run inexactly.
final class Int8Conv2dTests: XCTestCase {
    private let geometries = [
        Conv2dGeometry(inChannels: 6, inHeight: 7, inWidth: 5, outChannels: 9, kernel: (3, 3), stride: (2, 1), padding: (1, 1), groups: 3),
        Conv2dGeometry(inChannels: 8, inHeight: 6, inWidth: 6, outChannels: 8, kernel: (3, 3), padding: (1, 1), groups: 8),
        Conv2dGeometry(inChannels: 5, inHeight: 4, inWidth: 3, outChannels: 7, kernel: (1, 1)),
    ]

    func testAccumulatorsEqualTheIntegerConvolution() throws {
        var rng = SeededRNG(seed: 7)
        for g in geometries {
            let weightCount = g.outChannels * g.inChannels / g.groups * g.kernel.h * g.kernel.w
            // Full 8-bit weights (±127) and codes, so a saturating product would show.
            let weights = (0..<weightCount).map { _ in Int8(Int(rng.next() % 255) - 127) }
            let batch = 2, zeroPoint: Int32 = 37
            let input = (0..<batch * g.inChannels * g.inHeight * g.inWidth).map { _ in UInt8(rng.next() % 256) }
            guard Int8Conv2d.isExact else {
                XCTAssertThrowsError(try Int8Conv2d(geometry: g, weights: weights, zeroPoint: zeroPoint))
                continue
            }
            let conv = try Int8Conv2d(geometry: g, weights: weights, zeroPoint: zeroPoint)
            let rows = batch * g.outHeight * g.outWidth
            var acc = [Int32](repeating: 0, count: rows * g.outChannels)
            let staging = UnsafeMutableRawPointer.allocate(byteCount: conv.stagingBytes(batch: batch), alignment: 64)
            defer { staging.deallocate() }
            try input.withUnsafeBufferPointer { x in
                try acc.withUnsafeMutableBufferPointer {
                    try conv.run(batch: batch, input: x.baseAddress!, staging: staging, accumulators: $0.baseAddress!, context: ExecutionContext())
                }
            }
            XCTAssertEqual(acc, Self.integerConvolution(g, batch: batch, input: input, weights: weights, zeroPoint: zeroPoint), "\(g)")
        }
    }

    /// `[batch, OH, OW, O]` accumulators from `Conv2d.reference` on `q − z` and the weights as
    /// floats (double accumulation: these sums are integers well inside its exact range).
    static func integerConvolution(_ g: Conv2dGeometry, batch: Int, input: [UInt8], weights: [Int8], zeroPoint: Int32) -> [Int32] {
        let x = input.map { Float(Int32($0) - zeroPoint) }
        let w = Tensor(weights.map { Float($0) }, shape: [g.outChannels, g.inChannels / g.groups, g.kernel.h, g.kernel.w])
        let positions = g.outHeight * g.outWidth
        var nchw = [Float](repeating: 0, count: batch * g.outChannels * positions)
        Conv2d.reference(batch: batch, geometry: g, input: x, weight: w, bias: nil, postOp: .none, output: &nchw)
        var out = [Int32](repeating: 0, count: nchw.count)
        for n in 0..<batch {
            for c in 0..<g.outChannels {
                for p in 0..<positions { out[(n * positions + p) * g.outChannels + c] = Int32(nchw[(n * g.outChannels + c) * positions + p]) }
            }
        }
        return out
    }
}
