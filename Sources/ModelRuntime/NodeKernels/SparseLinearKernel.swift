import Kernels
import TensorCore

/// `linear` with a pruned weight: runs the sparse kernel at the batch sizes where the measured
/// break-even (`SparseBreakEven`) says it beats the dense one, and oneDNN's dense matmul otherwise.
final class SparseLinearKernel: NodeKernel {
    let dense: DenseLinear
    let sparse: SparseLinearLayer
    let sparsity: Double

    /// The kernel for a weight sparse enough to win at some batch size, else nil (use `LinearKernel`).
    static func ifWorthwhile(dense: DenseLinear, weight: Tensor, bias: Tensor?, postOp: PostOp) throws -> SparseLinearKernel? {
        guard postOp.isSparseSupported, weight.dtype == .f32, weight.quant == nil, weight.shape.rank == 2 else { return nil }
        let (rows, cols) = (weight.shape[0], weight.shape[1])
        let zeros = weight.zeroCount
        let sparsity = rows * cols == 0 ? 0 : Double(zeros) / Double(rows * cols)
        let anyBatch = [1, 16, 64].contains { SparseBreakEven.prefersSparse(sparsity: sparsity, rows: rows, cols: cols, batch: $0) }
        guard anyBatch else { return nil }
        return SparseLinearKernel(dense: dense, sparse: try SparseLinearLayer(weight: weight, bias: bias, postOp: postOp), sparsity: sparsity)
    }

    private init(dense: DenseLinear, sparse: SparseLinearLayer, sparsity: Double) {
        self.dense = dense
        self.sparse = sparse
        self.sparsity = sparsity
    }

    func usesSparse(batch: Int) -> Bool {
        SparseBreakEven.prefersSparse(sparsity: sparsity, rows: sparse.matrix.rows, cols: sparse.matrix.cols, batch: batch)
    }

    func prepare(batch: Int) throws {
        if !usesSparse(batch: batch) { try dense.prepare(batch: batch) }
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        if usesSparse(batch: batch) {
            sparse.run(batch: batch, input: buffers.input(0), output: buffers.output)
        } else {
            try dense.run(batch: batch, input: buffers.input(0), output: buffers.output, context: context)
        }
    }
}
