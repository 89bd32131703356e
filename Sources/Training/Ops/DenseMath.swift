import Kernels

/// `y = x · Wᵀ + b` over the last dimension, and its gradients; every product (the bias gradient
/// included, as dYᵀ · 1) on `Gemm.sgemm`.
enum DenseMath {
    /// x: [rows, inFeatures], w: [out, inFeatures] → [rows, out].
    static func forward(x: [Float], rows: Int, inFeatures: Int, w: [Float], out: Int, bias: [Float]?) -> [Float] {
        var y = bias != nil || inFeatures > 0 ? uninitializedFloats(rows * out) : [Float](repeating: 0, count: rows * out)
        if let bias {
            bias.withUnsafeBufferPointer { b in
                y.withUnsafeMutableBufferPointer { TrainingKernels.broadcastRows(b.baseAddress!, into: $0.baseAddress!, rows: rows, columns: out) }
            }
        }
        x.withUnsafeBufferPointer { xp in
            w.withUnsafeBufferPointer { wp in
                y.withUnsafeMutableBufferPointer { yp in
                    Gemm.sgemm(transA: false, transB: true, m: rows, n: out, k: inFeatures,
                               a: xp.baseAddress!, lda: inFeatures, b: wp.baseAddress!, ldb: inFeatures,
                               beta: bias == nil ? 0 : 1, c: yp.baseAddress!, ldc: out)
                }
            }
        }
        return y
    }

    /// Returns (dx = dy · W (nil unless `needsInput`), dW = dyᵀ · x, db = dyᵀ · 1). Every output is
    /// written by a product with beta 0 (oneDNN does not read C then), so none is zero-filled first.
    static func backward(dy: [Float], x: [Float], rows: Int, inFeatures: Int, w: [Float], out: Int,
                         needsBias: Bool, needsInput: Bool = true) -> (dx: [Float]?, dw: [Float], db: [Float]?) {
        var dx = uninitializedFloats(needsInput ? rows * inFeatures : 0)
        // A product over zero rows (k = 0) may not write C: zero-fill then.
        var dw = rows > 0 ? uninitializedFloats(out * inFeatures) : [Float](repeating: 0, count: out * inFeatures)
        var db: [Float]? = needsBias ? [Float](repeating: 0, count: out) : nil
        dy.withUnsafeBufferPointer { dyp in
            w.withUnsafeBufferPointer { wp in
                dx.withUnsafeMutableBufferPointer { dxp in
                    guard needsInput, rows * inFeatures > 0 else { return }
                    Gemm.sgemm(transA: false, transB: false, m: rows, n: inFeatures, k: out,
                               a: dyp.baseAddress!, lda: out, b: wp.baseAddress!, ldb: inFeatures,
                               c: dxp.baseAddress!, ldc: inFeatures)
                }
            }
            x.withUnsafeBufferPointer { xp in
                dw.withUnsafeMutableBufferPointer { dwp in
                    Gemm.sgemm(transA: true, transB: false, m: out, n: inFeatures, k: rows,
                               a: dyp.baseAddress!, lda: out, b: xp.baseAddress!, ldb: inFeatures,
                               c: dwp.baseAddress!, ldc: inFeatures)
                }
            }
            if needsBias {
                let ones = [Float](repeating: 1, count: rows)
                ones.withUnsafeBufferPointer { onesp in
                    db!.withUnsafeMutableBufferPointer { dbp in
                        Gemm.sgemm(transA: true, transB: false, m: out, n: 1, k: rows, a: dyp.baseAddress!, lda: out,
                                   b: onesp.baseAddress!, ldb: 1, c: dbp.baseAddress!, ldc: 1)
                    }
                }
            }
        }
        return (needsInput ? dx : nil, dw, db)
    }
}
