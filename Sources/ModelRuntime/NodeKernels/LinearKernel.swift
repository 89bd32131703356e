import Kernels
import TensorCore

/// `linear` on oneDNN f32 matmul (input flattened to `[batch, in]`).
final class LinearKernel: NodeKernel {
    let dense: DenseLinear
    init(dense: DenseLinear) { self.dense = dense }

    func prepare(batch: Int) throws { try dense.prepare(batch: batch) }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        try dense.run(batch: batch, input: buffers.input(0), output: buffers.output, context: context)
    }
}
