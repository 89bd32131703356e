import XCTest
import CKernels
import TensorCore
import TestSupport
@testable import Kernels

final class Int8KernelTests: XCTestCase {
    private func randomBytes<T: FixedWidthInteger>(_ count: Int, seed: UInt64, in range: ClosedRange<Int>) -> [T] {
        var rng = SeededRNG(seed: seed)
        return (0..<count).map { _ in T(range.lowerBound + Int(rng.next() % UInt64(range.count))) }
    }

    /// The exact products this CPU has for `maxAbsWeight`, checked to hold every one it can run
    /// (so none is skipped silently) and printed (the log says what ran).
    private func products(maxAbsWeight: Int) -> [Int8Product] {
        let products = Int8Product.available(maxAbsWeight: maxAbsWeight)
        XCTAssertEqual(products.contains(.s16(avx512: false)), ck_cpu_has(UInt32(CK_CPU_AVX2)) != 0)
        XCTAssertEqual(products.contains(.s16(avx512: true)), ck_cpu_has(UInt32(CK_CPU_AVX2 | CK_CPU_AVX512)) != 0)
        XCTAssertEqual(products.contains(.oneDNN), DNNL.u8s8ExactForAnyWeights || maxAbsWeight <= Int8Product.sevenBitLimit)
        XCTAssertEqual(products.last, .reference)
        print("INT8 products for |w| ≤ \(maxAbsWeight) (CPU mask \(String(cString: ck_cpu_mask())), oneDNN \(DNNL.effectiveISA)): \(products)")
        return products
    }

    /// Every exact u8×s8→s32 product this CPU has (oneDNN, the s16 AVX-512 / AVX2 products) equals
    /// the plain C loop, for 8-bit and 7-bit weights, on odd shapes (column and row tails of every
    /// register tile) and several batch sizes through one object (packed weights reused). The
    /// extreme codes (255 × ±127 in adjacent pairs) are where `vpmaddubsw` would saturate.
    func testEveryProductEqualsReferenceExactly() throws {
        for weightMax in [127, 63] {
            for (n, k) in [(1, 1), (5, 63), (33, 300), (64, 128), (17, 2)] {
                var w: [Int8] = randomBytes(n * k, seed: UInt64(n * 1000 + k), in: -weightMax...weightMax)
                for p in stride(from: 0, to: min(8, w.count), by: 1) { w[p] = Int8(p % 4 < 2 ? weightMax : -weightMax) }
                for product in products(maxAbsWeight: w.map { abs(Int($0)) }.max()!) {
                    let mm = try Int8Matmul(weights: w, n: n, k: k, product: product)
                    let context = try ExecutionContext()
                    for m in [1, 7, 64] {
                        var a: [UInt8] = randomBytes(m * k, seed: UInt64(m), in: 0...255)
                        for p in 0..<min(8, a.count) { a[p] = 255 }
                        var fast = [Int32](repeating: 0, count: m * n), slow = fast
                        try mm.run(a: a, m: m, c: &fast, context: context)
                        mm.reference(a: a, m: m, c: &slow)
                        XCTAssertEqual(fast, slow, "\(product) ±\(weightMax) m \(m) n \(n) k \(k)")
                    }
                }
            }
        }
    }

    /// The s16 products split their columns over the calling thread's OpenMP thread count: with 1,
    /// 2 and 3 threads (uneven splits) they give the reference's integers on a layer large enough
    /// to be split (64×300 by 200).
    func testS16ProductsSplitOverThreadsEqualTheReference() throws {
        let saved = DNNL.maxThreads
        defer { DNNL.setThreads(saved) }
        let (m, n, k) = (64, 200, 300)
        let w: [Int8] = randomBytes(n * k, seed: 41, in: -127...127)
        let a: [UInt8] = randomBytes(m * k, seed: 42, in: 0...255)
        let s16 = products(maxAbsWeight: 127).filter { if case .s16 = $0 { return true } else { return false } }
        XCTAssertEqual(s16.isEmpty, ck_cpu_has(UInt32(CK_CPU_AVX2)) == 0)
        let context = try ExecutionContext()
        for product in s16 {
            let mm = try Int8Matmul(weights: w, n: n, k: k, product: product)
            var expected = [Int32](repeating: 0, count: m * n)
            mm.reference(a: a, m: m, c: &expected)
            for threads in [1, 2, 3] {
                DNNL.setThreads(threads)
                var c = [Int32](repeating: -1, count: m * n)
                try mm.run(a: a, m: m, c: &c, context: context)
                XCTAssertEqual(c, expected, "\(product) on \(threads) threads")
            }
        }
    }

    /// A product that is not exact for the weights is refused, naming what is available.
    func testInexactProductIsRefused() throws {
        guard !DNNL.u8s8ExactForAnyWeights else {
            XCTAssertNoThrow(try Int8Matmul(weights: [127, -127], n: 1, k: 2, product: .oneDNN))
            return
        }
        XCTAssertThrowsError(try Int8Matmul(weights: [127, -127], n: 1, k: 2, product: .oneDNN)) { error in
            XCTAssertTrue("\(error)".contains("not exact for weights up to ±127"), "\(error)")
        }
    }

    /// A whole INT8 layer (u8 output, ReLU fused, and f32 output) gives identical bytes on every
    /// product this CPU has and on the reference.
    func testLayerOutputsEqualReferenceExactly() throws {
        let (m, n, k) = (9, 17, 40)
        let probe = try makeLayer(n: n, k: k, seed: 3)
        for product in products(maxAbsWeight: probe.matmul.maxAbsWeight) {
            let layer = try makeLayer(n: n, k: k, seed: 3, product: product)
            let x: [UInt8] = randomBytes(m * k, seed: 4, in: 0...255)
            var acc = [Int32](repeating: 0, count: m * n)
            for mode in [Int8Output.u8(ActivationQuantization(scale: 0.05, zeroPoint: 10), relu: true),
                         .u8(ActivationQuantization(scale: 0.02, zeroPoint: 128), relu: false)] {
                var fast = [UInt8](repeating: 0, count: m * n), slow = fast
                try layer.forward(x, m: m, accumulators: &acc, output: &fast, mode: mode)
                try layer.forward(x, m: m, accumulators: &acc, output: &slow, mode: mode, reference: true)
                XCTAssertEqual(fast, slow, "\(product) \(mode)")
                if case .u8(let q, true) = mode { XCTAssertTrue(fast.allSatisfy { Int32($0) >= q.zeroPoint }, "ReLU fused") }
            }
            var fast = [Float](repeating: 0, count: m * n), slow = fast
            try layer.forward(x, m: m, accumulators: &acc, output: &fast, mode: .f32(relu: false))
            try layer.forward(x, m: m, accumulators: &acc, output: &slow, mode: .f32(relu: false), reference: true)
            XCTAssertEqual(fast.map(\.bitPattern), slow.map(\.bitPattern), "\(product)")
        }
    }

    /// Dequantized output vs the FP32 layer on the same real inputs, within the worst-case
    /// quantization error: Σ_p (|w_p|·s_x/2 + |x_p|·s_w/2 + s_x·s_w/4) + s_x·s_w/2 (bias rounding).
    func testDequantizedOutputWithinQuantizationErrorOfFP32() throws {
        let (m, n, k) = (4, 8, 50)
        let wf = randomTensor([n, k], seed: 8).floats
        let bf = randomTensor([n], seed: 9).floats
        let xf = randomTensor([m, k], seed: 10, lower: 0, upper: 2).floats
        let sw = (0..<n).map { j in wf[(j * k)..<((j + 1) * k)].map(abs).max()! / 127 }
        let wq = (0..<(n * k)).map { Int8((wf[$0] / sw[$0 / k]).rounded(.toNearestOrEven)) }
        let input = ActivationQuantization(scale: 2 / 255, zeroPoint: 0)
        var weight = try Tensor(dtype: .i8, shape: [n, k], bytes: wq.withUnsafeBytes { Array($0) })
        weight.quant = QuantParams(scales: sw, zeroPoints: [Int32](repeating: 0, count: n), axis: 0)
        let layer = try Int8Linear(weight: weight, bias: Tensor(bf, shape: [n]), input: input)
        var xq = [UInt8](repeating: 0, count: m * k)
        input.quantize(xf, count: m * k, into: &xq)
        var acc = [Int32](repeating: 0, count: m * n), y = [Float](repeating: 0, count: m * n)
        try layer.forward(xq, m: m, accumulators: &acc, output: &y, mode: .f32(relu: false))
        for i in 0..<m {
            for j in 0..<n {
                var exact = Double(bf[j]), quantizationErrorBound = Double(input.scale * sw[j]) / 2
                for p in 0..<k {
                    exact += Double(xf[i * k + p]) * Double(wf[j * k + p])
                    quantizationErrorBound += Double(abs(wf[j * k + p]) * input.scale / 2 + abs(xf[i * k + p]) * sw[j] / 2
                                                     + input.scale * sw[j] / 4)
                }
                XCTAssertLessThanOrEqual(abs(Double(y[i * n + j]) - exact), quantizationErrorBound * 1.001 + 1e-5, "[\(i), \(j)]")
            }
        }
    }

    /// The AVX-512 and AVX2 quantize / requantize / dequantize loops (each this CPU runs) give the
    /// same bytes as the portable ones, on odd lengths (tails), rounding ties, values far outside
    /// [0, 255], and ReLU.
    func testVectorEpiloguesEqualPortableLoopsExactly() throws {
        defer { ck_int8_force_portable(0) }
        var ran: [String] = []
        for isa in ["avx512", "avx2"] where ck_int8_force_isa(isa) != 0 {
            ran.append(isa)
            try checkEpilogueAgainstPortable(isa)
        }
        XCTAssertEqual(ran.contains("avx2"), ck_cpu_has(UInt32(CK_CPU_AVX2)) != 0, "every variant this CPU runs was compared")
        print("int8 epilogue variants compared with the portable loops: \(ran)")
    }

    private func checkEpilogueAgainstPortable(_ isa: String) throws {
        let (m, n) = (3, 37)
        var rng = SeededRNG(seed: 21)
        // Accumulators around ties: multiplier 0.5 makes every odd sum a tie.
        let acc: [Int32] = (0..<(m * n)).map { i in i % 5 == 0 ? Int32(rng.next() % 2_000_000) - 1_000_000 : Int32(rng.next() % 1001) - 500 }
        let offset: [Int32] = (0..<n).map { Int32($0) - 18 }
        let multipliers: [Float] = (0..<n).map { $0 % 3 == 0 ? 0.5 : rng.uniform(0.001, 2) }
        let floats: [Float] = (0..<(m * n)).map { i in i % 7 == 0 ? Float(i) + 0.5 : rng.uniform(-400, 400) }
        for relu in [Int32(0), 1] {
            var vector = [UInt8](repeating: 0, count: m * n), portable = vector
            ck_requantize_s32_u8(acc, m, n, offset, multipliers, 100, relu, &vector)
            ck_requantize_s32_u8_ref(acc, m, n, offset, multipliers, 100, relu, &portable)
            XCTAssertEqual(vector, portable, "\(isa) requantize relu \(relu)")
            var y = [Float](repeating: 0, count: m * n), yRef = y
            ck_dequantize_s32_f32(acc, m, n, offset, multipliers, relu, &y)
            ck_dequantize_s32_f32_ref(acc, m, n, offset, multipliers, relu, &yRef)
            XCTAssertEqual(y.map(\.bitPattern), yRef.map(\.bitPattern), "\(isa) dequantize relu \(relu)")
        }
        var q = [UInt8](repeating: 0, count: floats.count), qRef = q
        ck_quantize_f32_u8(floats, floats.count, 1, 3, &q)
        ck_quantize_f32_u8_ref(floats, floats.count, 1, 3, &qRef)
        XCTAssertEqual(q, qRef, isa)
    }

    /// A context's workspace is allocated once per slot and reused: the same bytes for any request
    /// up to the largest seen, a new buffer only when a request outgrows it.
    func testWorkspaceIsReusedAcrossRuns() throws {
        let context = try ExecutionContext()
        let first = context.workspace(0, byteCount: 1000)
        XCTAssertEqual(context.workspace(0, byteCount: 1000), first)
        XCTAssertEqual(context.workspace(0, byteCount: 10), first)
        XCTAssertNotEqual(context.workspace(1, byteCount: 10), first, "slots are distinct buffers")
        let grown = context.workspace(0, byteCount: 5000)
        XCTAssertEqual(context.workspace(0, byteCount: 1000), grown)
        XCTAssertEqual(Int(bitPattern: grown) % 64, 0, "64-byte aligned")
    }

    /// im2col with padding writes the pad value and copies patches in (c, kh, kw) order.
    func testIm2colPadsWithZeroPoint() {
        let x: [UInt8] = [1, 2, 3, 4]  // 1×2×2
        var rows = [UInt8](repeating: 0, count: 4 * 9)
        ck_im2col_u8(x, 1, 2, 2, 3, 3, 1, 1, 1, 1, 1, 1, 2, 2, 7, &rows)
        XCTAssertEqual(Array(rows[0..<9]), [7, 7, 7, 7, 1, 2, 7, 3, 4])
        XCTAssertEqual(Array(rows[27..<36]), [1, 2, 7, 3, 4, 7, 7, 7, 7])
    }

    private func makeLayer(n: Int, k: Int, seed: UInt64, product: Int8Product? = nil) throws -> Int8Linear {
        let w: [Int8] = randomBytes(n * k, seed: seed, in: -127...127)
        var weight = try Tensor(dtype: .i8, shape: [n, k], bytes: w.withUnsafeBytes { Array($0) })
        var rng = SeededRNG(seed: seed + 1)
        weight.quant = QuantParams(scales: (0..<n).map { _ in rng.uniform(0.001, 0.01) }, zeroPoints: [Int32](repeating: 0, count: n), axis: 0)
        return try Int8Linear(weight: weight, bias: randomTensor([n], seed: seed + 2),
                              input: ActivationQuantization(scale: 0.03, zeroPoint: 7), product: product)
    }
}
