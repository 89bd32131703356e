import CDNNL
import TensorCore

/// Dense f32 matrix products, row-major: `C = alpha · op(A) · op(B) + beta · C`.
///
/// The fast path is oneDNN's `dnnl_sgemm`; `reference` is the plain loop tests compare it with.
public enum Gemm {
    public static func sgemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        let status = dnnl_sgemm(transA ? 84 : 78, transB ? 84 : 78,  // 'T' : 'N'
                                Int64(m), Int64(n), Int64(k), alpha, a, Int64(lda), b, Int64(ldb),
                                beta, c, Int64(ldc))
        precondition(status == dnnl_success, "dnnl_sgemm failed with status \(status.rawValue)")
    }

    /// The plain triple loop (double accumulation), the ground truth for `sgemm`.
    public static func reference(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                                 a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                 beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(av) * Double(bv)
                }
                let prior = beta == 0 ? 0 : beta * c[i * ldc + j]
                c[i * ldc + j] = alpha * Float(sum) + prior
            }
        }
    }
}
