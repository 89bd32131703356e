import XCTest
import CKernels
import TensorCore
import TestSupport
@testable import Kernels

/// The INT8 sparse product gives exactly the dense product's integers (`ck_gemm_u8s8s32_ref` and
/// oneDNN), in every variant this CPU runs, and a whole INT8 layer gives the same output bytes.
final class SparseInt8Tests: XCTestCase {
    /// A random s8 [rows, cols] weight (full range ±127) with about `sparsity` of it zeroed.
    private func prunedWeight(rows: Int, cols: Int, sparsity: Double, seed: UInt64) -> [Int8] {
        var rng = SeededRNG(seed: seed)
        return (0..<rows * cols).map { _ in
            let v = Int8(Int(rng.next() % 255) - 127)
            return Double(rng.uniform(0, 1) as Float) < sparsity ? 0 : v
        }
    }

    private func randomActivations(_ count: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededRNG(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    func testChunkedCSRHoldsExactlyTheNonZeros() {
        // Row 0: columns 1 and 130 (chunk 0 and 1); row 1: empty; row 2: column 129 only.
        var dense = [Int8](repeating: 0, count: 3 * 131)
        dense[1] = 5; dense[130] = -7; dense[2 * 131 + 129] = 127
        let csr = dense.withUnsafeBufferPointer { SparseInt8Matrix(dense: $0, rows: 3, cols: 131) }
        XCTAssertEqual(csr.chunks, 2)
        XCTAssertEqual(csr.rowStart, [0, 2, 2, 3])
        XCTAssertEqual(csr.chunkCount, [1, 1, 0, 0, 0, 1])
        XCTAssertEqual(csr.columns, [1, 130, 129])
        XCTAssertEqual(csr.values, [5, -7, 127])
        XCTAssertEqual(csr.sparsity, 1 - 3.0 / 393, accuracy: 1e-12)
    }

    /// Shapes around the 128-column chunk and the 64-entry vector (dense rows have chunks of 128
    /// entries), batch sizes around the 8/4/2/1 tiles, extreme values (255 × ±127).
    func testEveryVariantEqualsTheDenseReferenceExactly() {
        for (rows, cols, sparsity) in [(37, 53, 0.9), (16, 700, 0.5), (5, 256, 0.0), (9, 129, 1.0), (3, 300, 0.97)] {
            let w = prunedWeight(rows: rows, cols: cols, sparsity: sparsity, seed: UInt64(rows * cols))
            let csr = w.withUnsafeBufferPointer { SparseInt8Matrix(dense: $0, rows: rows, cols: cols) }
            for batch in [1, 2, 3, 7, 8, 9, 17] {
                var x = randomActivations(batch * cols, seed: UInt64(batch))
                if batch == 2 { x = [UInt8](repeating: 255, count: batch * cols) }
                var expected = [Int32](repeating: 0, count: batch * rows)
                ck_gemm_u8s8s32_ref(x, w, &expected, batch, rows, cols)
                for isa in SparseISA.allCases where SparseInt8.isSupported(isa) {
                    XCTAssertEqual(SparseInt8.product(weight: csr, x: x, m: batch, isa: isa), expected,
                                   "\(isa) [\(rows)x\(cols)] sparsity \(sparsity) batch \(batch)")
                }
            }
        }
        XCTAssertTrue(SparseInt8.isSupported(.scalar))
    }

    /// A whole INT8 layer (zero-point correction, bias, requantize with ReLU / dequantize) on the
    /// sparse product writes the same bytes as on each dense product this CPU has.
    func testSparseLayerEqualsDenseLayerExactly() throws {
        let (n, k) = (40, 300)
        let w = prunedWeight(rows: n, cols: k, sparsity: 0.85, seed: 11)
        let products = Int8Product.available(maxAbsWeight: w.map { abs(Int($0)) }.max()!)
        XCTAssertGreaterThan(products.count, ck_cpu_has(UInt32(CK_CPU_AVX2)) != 0 ? 1 : 0)
        for product in products { try checkSparseLayerAgainstDense(w, n: n, k: k, product: product) }
    }

    private func checkSparseLayerAgainstDense(_ w: [Int8], n: Int, k: Int, product: Int8Product) throws {
        let m = 9
        var weight = try Tensor(dtype: .i8, shape: [n, k], bytes: w.withUnsafeBytes { Array($0) })
        weight.quant = QuantParams(scales: (0..<n).map { 0.01 + Float($0) * 1e-4 }, zeroPoints: [Int32](repeating: 0, count: n), axis: 0)
        let layer = try Int8Linear(weight: weight, bias: randomTensor([n], seed: 12),
                                   input: ActivationQuantization(scale: 0.03, zeroPoint: 17), product: product)
        let sparse = layer.sparseWeight()
        XCTAssertEqual(sparse.nonZeroCount, w.filter { $0 != 0 }.count)
        let x = randomActivations(m * k, seed: 13)
        var acc = [Int32](repeating: 0, count: m * n)
        for mode in [Int8Output.u8(ActivationQuantization(scale: 0.05, zeroPoint: 10), relu: true), .u8(ActivationQuantization(scale: 0.2, zeroPoint: 128), relu: false)] {
            var dense = [UInt8](repeating: 0, count: m * n), viaSparse = dense
            try layer.forward(x, m: m, accumulators: &acc, output: &dense, mode: mode)
            try layer.forward(x, m: m, accumulators: &acc, output: &viaSparse, mode: mode, sparse: sparse)
            XCTAssertEqual(viaSparse, dense, "\(product) \(mode)")
        }
        for relu in [false, true] {
            var dense = [Float](repeating: 0, count: m * n), viaSparse = dense
            try layer.forward(x, m: m, accumulators: &acc, output: &dense, mode: .f32(relu: relu))
            try layer.forward(x, m: m, accumulators: &acc, output: &viaSparse, mode: .f32(relu: relu), sparse: sparse)
            XCTAssertEqual(viaSparse.map(\.bitPattern), dense.map(\.bitPattern), "\(product) f32 relu \(relu)")
        }
    }
}
