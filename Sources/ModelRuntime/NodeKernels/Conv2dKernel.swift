import Kernels

/// `conv2d` (with a folded batchnorm and fused ReLU when planned so) on oneDNN.
final class Conv2dKernel: NodeKernel {
    let conv: Conv2d
    init(conv: Conv2d) { self.conv = conv }

    func prepare(batch: Int) throws { try conv.prepare(batch: batch) }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        try conv.run(batch: batch, input: buffers.input(0), output: buffers.output, context: context)
    }
}
