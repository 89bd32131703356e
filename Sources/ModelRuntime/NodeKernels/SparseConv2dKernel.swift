import Kernels
import TensorCore

/// `conv2d` (groups 1) with a pruned weight: runs `SparseConv2d` (im2col + sparse product) at the
/// batch sizes where the measured break-even (`SparseBreakEven.prefersSparseConv`) says it beats
/// oneDNN's dense convolution, and the dense one otherwise.
final class SparseConv2dKernel: NodeKernel {
    let dense: Conv2d
    let sparse: SparseConv2d
    /// Run `sparse` at every batch size (`KernelRegistry.SparsePolicy.always`).
    let alwaysSparse: Bool

    /// The kernel for a weight sparse enough to win at batch 1, 16 or 64, else nil (use `Conv2dKernel`).
    static func ifWorthwhile(dense: Conv2d, weight: Tensor, bias: Tensor?, postOp: PostOp) throws -> SparseConv2dKernel? {
        let g = dense.geometry
        guard postOp.isSparseSupported, g.groups == 1, weight.dtype == .f32, weight.quant == nil, weight.elementCount > 0 else { return nil }
        let zeros = weight.zeroCount
        let sparsity = Double(zeros) / Double(weight.elementCount)
        let policy = KernelRegistry.sparsePolicy
        guard policy != .never, zeros > 0 else { return nil }
        guard policy == .always || [1, 16, 64].contains(where: { SparseBreakEven.prefersSparseConv(sparsity: sparsity, geometry: g, batch: $0) }) else { return nil }
        return SparseConv2dKernel(dense: dense, sparse: try SparseConv2d(geometry: g, weight: weight, bias: bias, postOp: postOp),
                                  alwaysSparse: policy == .always)
    }

    private init(dense: Conv2d, sparse: SparseConv2d, alwaysSparse: Bool) {
        self.dense = dense
        self.sparse = sparse
        self.alwaysSparse = alwaysSparse
    }

    func usesSparse(batch: Int) -> Bool {
        alwaysSparse || SparseBreakEven.prefersSparseConv(sparsity: sparse.matrix.sparsity, geometry: sparse.geometry, batch: batch)
    }

    func prepare(batch: Int) throws {
        if !usesSparse(batch: batch) { try dense.prepare(batch: batch) }
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        if usesSparse(batch: batch) {
            let scratch = context.workspace(Int8Workspace.patches, byteCount: sparse.scratchCount * 4).assumingMemoryBound(to: Float.self)
            sparse.run(batch: batch, input: buffers.input(0), output: buffers.output, scratch: scratch)
        } else {
            try dense.run(batch: batch, input: buffers.input(0), output: buffers.output, context: context)
        }
    }
}
