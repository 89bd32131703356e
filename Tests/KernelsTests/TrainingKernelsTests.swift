import Kernels
import TensorCore
import TestSupport
import XCTest

/// The training kernels: SIMD variants bit-identical to their scalar references, references checked
/// against independently written formulas, and the runtime ReLU's NaN semantics.
final class TrainingKernelsTests: XCTestCase {
    static let lengths = [1, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1000]

    /// Runs `body` with the dispatched variants and with the portable ones forced.
    func bothVariants(_ body: () -> Void) {
        for portable in [false, true] {
            TrainingKernels.forcePortable(portable)
            Elementwise.forcePortable(portable)
            body()
        }
        TrainingKernels.forcePortable(false)
        Elementwise.forcePortable(false)
    }

    /// Adam and AdamW steps: the dispatched kernel equals the reference bit for bit, and the reference
    /// equals torch.optim's formula written out in Double (to f32 rounding).
    func testAdamVariantsAreBitExactAndMatchTheFormula() {
        let settings = [AdamStep(beta1: 0.9, beta2: 0.999, stepSize: 1e-3 / (1 - 0.9), bias2Sqrt: (1 - Float(0.999)).squareRoot(),
                                 epsilon: 1e-8, l2: 0.1, decay: 1),
                        AdamStep(beta1: 0.8, beta2: 0.99, stepSize: 0.01, bias2Sqrt: 0.3, epsilon: 1e-6, l2: 0, decay: 0.999)]
        bothVariants {
            for n in Self.lengths {
                for (k, h) in settings.enumerated() {
                    let p0 = randomTensor([n], seed: UInt64(n), lower: -2, upper: 2).floats
                    let g = randomTensor([n], seed: UInt64(n + 1)).floats
                    let m0 = randomTensor([n], seed: UInt64(n + 2), lower: -0.1, upper: 0.1).floats
                    let v0 = randomTensor([n], seed: UInt64(n + 3), lower: 0, upper: 0.01).floats
                    var (p1, m1, v1) = (p0, m0, v0), (p2, m2, v2) = (p0, m0, v0)
                    TrainingKernels.adam(&p1, gradient: g, m: &m1, v: &v1, count: n, h)
                    TrainingKernels.adam(&p2, gradient: g, m: &m2, v: &v2, count: n, h, reference: true)
                    XCTAssertEqual(p1, p2, "adam p, setting \(k), n \(n), \(TrainingKernels.isa)")
                    XCTAssertEqual(m1, m2, "adam m, setting \(k), n \(n)")
                    XCTAssertEqual(v1, v2, "adam v, setting \(k), n \(n)")
                    let expected = (0..<n).map { i -> Float in
                        let w = Double(p0[i]) * Double(h.decay)
                        let grad = Double(g[i]) + Double(h.l2) * w
                        let m = Double(h.beta1) * Double(m0[i]) + (1 - Double(h.beta1)) * grad
                        let v = Double(h.beta2) * Double(v0[i]) + (1 - Double(h.beta2)) * grad * grad
                        return Float(w - Double(h.stepSize) * m / (v.squareRoot() / Double(h.bias2Sqrt) + Double(h.epsilon)))
                    }
                    XCTAssertNil(closenessFailure(p2, expected, rtol: 1e-5, atol: 1e-6), "adam reference vs formula, n \(n)")
                }
            }
        }
    }

    func testReluBackwardVariantsAreBitExact() {
        bothVariants {
            for n in Self.lengths {
                var y = randomTensor([n], seed: UInt64(n)).floats.map { max($0, 0) }
                if n > 3 { y[1] = .nan; y[2] = -0.0 }
                let dy = randomTensor([n], seed: UInt64(n + 7)).floats
                var fast = [Float](repeating: .nan, count: n), slow = fast
                TrainingKernels.reluBackward(dy: dy, y: y, dx: &fast, count: n)
                TrainingKernels.reluBackward(dy: dy, y: y, dx: &slow, count: n, reference: true)
                XCTAssertEqual(fast, slow, "relu backward \(n)")
                XCTAssertEqual(slow, zip(dy, y).map { $1 > 0 ? $0 : 0 }, "relu backward formula \(n)")
            }
        }
    }

    /// PyTorch's relu propagates NaN (and keeps −0); every variant and the reference do too.
    func testReluPropagatesNaN() {
        bothVariants {
            for n in [1, 5, 8, 16, 17, 40] {
                let x = (0..<n).map { i -> Float in [Float.nan, -1, 2, -0.0, .infinity, -.infinity, 0.5][i % 7] }
                var fast = [Float](repeating: 7, count: n), slow = fast
                Elementwise.apply(.relu, x, &fast, count: n)
                Elementwise.reference(.relu, x, &slow, count: n)
                for (i, v) in x.enumerated() {
                    for (name, out) in [("fast", fast), ("reference", slow)] {
                        if v.isNaN { XCTAssertTrue(out[i].isNaN, "\(name) relu(NaN) at \(i), n \(n), \(Elementwise.isa)") }
                        else { XCTAssertEqual(out[i].bitPattern, (v < 0 ? Float(0) : v).bitPattern, "\(name) relu(\(v)), n \(n)") }
                    }
                }
            }
        }
    }

    /// im2col against the definition (x[c, oy·s − p + ki·d, ox·s − p + kj·d], 0 outside), with samples
    /// side by side; col2im is its adjoint: ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩.
    func testIm2colMatchesDefinitionAndCol2imIsItsAdjoint() {
        let cases: [(c: Int, h: Int, w: Int, k: (Int, Int), s: (Int, Int), p: (Int, Int), d: (Int, Int))] = [
            (2, 5, 5, (3, 3), (1, 1), (1, 1), (1, 1)), (3, 7, 6, (3, 2), (2, 1), (1, 0), (1, 1)),
            (1, 8, 8, (3, 3), (2, 3), (1, 1), (2, 2)), (2, 4, 4, (1, 1), (1, 1), (0, 0), (1, 1)),
            (1, 3, 9, (2, 4), (1, 2), (0, 2), (1, 1)),
        ]
        for (i, t) in cases.enumerated() {
            let outH = (t.h + 2 * t.p.0 - t.d.0 * (t.k.0 - 1) - 1) / t.s.0 + 1
            let outW = (t.w + 2 * t.p.1 - t.d.1 * (t.k.1 - 1) - 1) / t.s.1 + 1
            let geo = Im2colGeometry(channels: t.c, height: t.h, width: t.w, kernel: t.k, stride: t.s, padding: t.p,
                                     dilation: t.d, outHeight: outH, outWidth: outW)
            let samples = 2, spatial = outH * outW, ld = samples * spatial, patch = t.c * t.k.0 * t.k.1
            let x = randomTensor([samples * t.c * t.h * t.w], seed: UInt64(i)).floats
            var cols = [Float](repeating: .nan, count: patch * ld)
            x.withUnsafeBufferPointer { xp in
                cols.withUnsafeMutableBufferPointer { cp in
                    for n in 0..<samples {
                        TrainingKernels.im2col(xp.baseAddress! + n * t.c * t.h * t.w, into: cp.baseAddress! + n * spatial, leadingDimension: ld, geo)
                    }
                }
            }
            var expected = [Float](repeating: 0, count: patch * ld)
            for n in 0..<samples { for c in 0..<t.c { for ki in 0..<t.k.0 { for kj in 0..<t.k.1 { for oy in 0..<outH { for ox in 0..<outW {
                let iy = oy * t.s.0 - t.p.0 + ki * t.d.0, ix = ox * t.s.1 - t.p.1 + kj * t.d.1
                let inside = iy >= 0 && iy < t.h && ix >= 0 && ix < t.w
                expected[((c * t.k.0 + ki) * t.k.1 + kj) * ld + n * spatial + oy * outW + ox] =
                    inside ? x[((n * t.c + c) * t.h + iy) * t.w + ix] : 0
            }}}}}}
            XCTAssertEqual(cols, expected, "im2col case \(i)")

            let probe = randomTensor([patch * ld], seed: UInt64(i + 50)).floats
            var back = [Float](repeating: 0, count: x.count)
            probe.withUnsafeBufferPointer { cp in
                back.withUnsafeMutableBufferPointer { bp in
                    for n in 0..<samples {
                        TrainingKernels.col2imAdd(cp.baseAddress! + n * spatial, into: bp.baseAddress! + n * t.c * t.h * t.w, leadingDimension: ld, geo)
                    }
                }
            }
            let lhs = zip(expected, probe).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let rhs = zip(x, back).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            XCTAssertEqual(lhs, rhs, accuracy: 1e-4 * max(1, abs(lhs)), "col2im adjoint case \(i)")
        }
    }

    /// im2col and col2im: the dispatched variants equal the reference bit for bit, including rows longer
    /// than one vector, padding wider than the kernel reach and non-unit strides (which fall back).
    func testIm2colAndCol2imVariantsAreBitExact() {
        let cases: [(c: Int, h: Int, w: Int, k: (Int, Int), s: (Int, Int), p: (Int, Int), d: (Int, Int))] = [
            (1, 8, 8, (3, 3), (1, 1), (1, 1), (1, 1)), (16, 8, 8, (3, 3), (1, 1), (1, 1), (1, 1)),
            (2, 5, 37, (3, 5), (1, 1), (2, 2), (1, 1)), (3, 9, 20, (2, 3), (2, 1), (0, 4), (1, 2)),
            (1, 6, 17, (3, 3), (1, 2), (1, 1), (1, 1)), (2, 4, 4, (1, 1), (1, 1), (0, 0), (1, 1)),
            (1, 3, 3, (3, 3), (1, 1), (3, 3), (1, 1)), (2, 5, 5, (3, 3), (1, 1), (0, 0), (1, 1)), (1, 2, 9, (2, 9), (1, 1), (0, 0), (1, 1)),
            (2, 7, 12, (3, 3), (2, 1), (1, 1), (1, 1)),
        ]
        for (i, t) in cases.enumerated() {
            let outH = (t.h + 2 * t.p.0 - t.d.0 * (t.k.0 - 1) - 1) / t.s.0 + 1
            let outW = (t.w + 2 * t.p.1 - t.d.1 * (t.k.1 - 1) - 1) / t.s.1 + 1
            let geo = Im2colGeometry(channels: t.c, height: t.h, width: t.w, kernel: t.k, stride: t.s, padding: t.p,
                                     dilation: t.d, outHeight: outH, outWidth: outW)
            let samples = 3, spatial = outH * outW, ld = samples * spatial, patch = t.c * t.k.0 * t.k.1, plane = t.c * t.h * t.w
            let x = randomTensor([samples * plane], seed: UInt64(i)).floats
            let probe = randomTensor([patch * ld], seed: UInt64(i + 50)).floats
            let start = randomTensor([samples * plane], seed: UInt64(i + 90)).floats
            var results: [(cols: [Float], back: [Float])] = []
            for reference in [false, true] {
                var cols = [Float](repeating: .nan, count: patch * ld), back = start
                for n in 0..<samples {
                    TrainingKernels.im2col(x.withUnsafeBufferPointer { $0.baseAddress! } + n * plane, into: &cols[n * spatial],
                                           leadingDimension: ld, geo, reference: reference)
                }
                probe.withUnsafeBufferPointer { cp in
                    back.withUnsafeMutableBufferPointer { bp in
                        for n in 0..<samples {
                            TrainingKernels.col2imAdd(cp.baseAddress! + n * spatial, into: bp.baseAddress! + n * plane, leadingDimension: ld,
                                                      geo, reference: reference)
                        }
                    }
                }
                results.append((cols, back))
            }
            XCTAssertEqual(results[0].cols.map(\.bitPattern), results[1].cols.map(\.bitPattern), "im2col case \(i), \(TrainingKernels.isa)")
            XCTAssertEqual(results[0].back.map(\.bitPattern), results[1].back.map(\.bitPattern), "col2im case \(i), \(TrainingKernels.isa)")
        }
    }

    /// Max pooling with argmax: the dispatched variant equals the reference (values and indices) with
    /// ties, NaNs and infinities in the windows; the reference equals the definition (first maximum
    /// wins, a NaN wins); the backward scatters each gradient to its argmax.
    func testMaxPoolVariantsAreBitExact() {
        let cases: [(planes: Int, h: Int, w: Int, k: (Int, Int), s: (Int, Int), p: (Int, Int))] = [
            (64, 8, 8, (2, 2), (2, 2), (0, 0)), (3, 9, 7, (3, 2), (2, 1), (0, 0)), (2, 20, 21, (2, 2), (2, 2), (0, 0)),
            (2, 5, 5, (3, 3), (2, 2), (1, 1)), (1, 4, 4, (4, 4), (1, 1), (0, 0)),
        ]
        for (i, t) in cases.enumerated() {
            let outH = (t.h + 2 * t.p.0 - t.k.0) / t.s.0 + 1, outW = (t.w + 2 * t.p.1 - t.k.1) / t.s.1 + 1
            var x = randomTensor([t.planes * t.h * t.w], seed: UInt64(i)).floats.map { ($0 * 4).rounded() / 4 }  // many ties
            for j in stride(from: 3, to: x.count, by: 11) { x[j] = [Float.nan, .infinity, -.infinity][j % 3] }
            let n = t.planes * outH * outW
            var ys: [[Float]] = [], indices: [[Int32]] = []
            for reference in [false, true] {
                var y = [Float](repeating: 7, count: n), argmax = [Int32](repeating: -1, count: n)
                TrainingKernels.maxPoolWithArgmax(x, into: &y, argmax: &argmax, planes: t.planes, height: t.h, width: t.w, kernel: t.k,
                                                  stride: t.s, padding: t.p, outHeight: outH, outWidth: outW, reference: reference)
                ys.append(y)
                indices.append(argmax)
            }
            XCTAssertEqual(ys[0].map(\.bitPattern), ys[1].map(\.bitPattern), "maxpool values case \(i), \(TrainingKernels.isa)")
            XCTAssertEqual(indices[0], indices[1], "maxpool argmax case \(i)")
            var o = 0
            for plane in 0..<t.planes { for oy in 0..<outH { for ox in 0..<outW {
                var best: Int? = nil
                for iy in max(0, oy * t.s.0 - t.p.0)..<min(t.h, oy * t.s.0 - t.p.0 + t.k.0) {
                    for ix in max(0, ox * t.s.1 - t.p.1)..<min(t.w, ox * t.s.1 - t.p.1 + t.k.1) {
                        let j = (plane * t.h + iy) * t.w + ix
                        if best == nil || x[j] > x[best!] || x[j].isNaN { best = j }
                    }
                }
                XCTAssertEqual(Int(indices[1][o]), best, "maxpool reference vs definition case \(i), output \(o)")
                o += 1
            }}}
            let dy = randomTensor([n], seed: UInt64(i + 9)).floats
            var dx = [Float](repeating: 0, count: x.count), expected = dx
            TrainingKernels.maxPoolBackward(dy: dy, argmax: indices[0], dx: &dx, count: n)
            for (g, j) in zip(dy, indices[0]) { expected[Int(j)] += g }
            XCTAssertEqual(dx, expected, "maxpool backward case \(i)")
        }
    }
}
