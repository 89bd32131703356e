import XCTest
import TestSupport
import TensorCore
@testable import Kernels

final class GemmTests: XCTestCase {
    /// oneDNN and the reference loop agree on every transpose combination.
    func testSgemmMatchesReference() {
        let (m, n, k) = (7, 5, 11)
        for (transA, transB) in [(false, false), (false, true), (true, false), (true, true)] {
            let a = randomTensor([m * k], seed: 1).floats, b = randomTensor([k * n], seed: 2).floats
            var c = [Float](repeating: 0.5, count: m * n), r = c
            let lda = transA ? m : k, ldb = transB ? k : n
            Gemm.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 2, a: a, lda: lda, b: b, ldb: ldb, beta: 1, c: &c, ldc: n)
            Gemm.reference(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 2, a: a, lda: lda, b: b, ldb: ldb, beta: 1, c: &r, ldc: n)
            XCTAssertNil(closenessFailure(c, r, rtol: 1e-5, atol: 1e-5), "transA \(transA) transB \(transB)")
        }
    }
}
