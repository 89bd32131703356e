import Foundation
import TensorCore

/// A `linear` layer whose weight runs as a sparse (CSR) matrix: the sparse counterpart of
/// `DenseLinear`, with the same bias and fused ReLU. Immutable after init and safe to run from
/// several threads: scratch buffers come from a small pool, so a steady-state run allocates nothing.
public final class SparseLinearLayer: @unchecked Sendable {
    public let matrix: SparseMatrix
    public let postOp: PostOp
    private let bias: [Float]?
    private let lock = NSLockLike()
    private var pool: [UnsafeMutablePointer<Float>] = []

    /// - Parameters:
    ///   - weight: f32 `[out, in]` (zeros are dropped).
    ///   - bias: f32 `[out]`, or nil.
    public init(weight: Tensor, bias: Tensor?, postOp: PostOp = .none) throws {
        guard weight.dtype == .f32, weight.quant == nil, weight.shape.rank == 2 else {
            throw KernelError.badShape("sparse linear weight must be f32 [out, in], got \(weight.dtype.rawValue) \(weight.shape)")
        }
        if let bias, bias.dtype != .f32 || bias.elementCount != weight.shape[0] {
            throw KernelError.badShape("linear bias must be f32 [\(weight.shape[0])], got \(bias.dtype.rawValue) \(bias.shape)")
        }
        matrix = SparseMatrix(weight: weight)
        self.bias = bias?.floats
        self.postOp = postOp
    }

    deinit { for buffer in pool { buffer.deallocate() } }

    /// `output[batch, out] = post(input[batch, in] · Wᵀ + bias)`.
    public func run(batch: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, isa: SparseISA = .best) {
        guard batch > 0 else { return }
        let scratch = lock.withLock { pool.popLast() }
            ?? UnsafeMutablePointer<Float>.allocate(capacity: max(SparseLinear.scratchCount(inFeatures: matrix.cols), 1))
        defer { lock.withLock { pool.append(scratch) } }
        if let bias {
            bias.withUnsafeBufferPointer { b in
                SparseLinear.forward(weight: matrix, x: input, batch: batch, bias: b.baseAddress, y: output, scratch: scratch, isa: isa)
            }
        } else {
            SparseLinear.forward(weight: matrix, x: input, batch: batch, bias: nil, y: output, scratch: scratch, isa: isa)
        }
        if postOp == .relu {
            for i in 0..<batch * matrix.rows where output[i] < 0 { output[i] = 0 }  // NaN passes, as in oneDNN's relu
        }
    }
}
