import Kernels

/// A one-input element-wise activation over `elementsPerSample × batch` values.
final class ActivationKernel: NodeKernel {
    let activation: Activation
    let elementsPerSample: Int
    init(_ activation: Activation, elementsPerSample: Int) {
        self.activation = activation
        self.elementsPerSample = elementsPerSample
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        Elementwise.apply(activation, buffers.input(0), buffers.output, count: batch * elementsPerSample)
    }
}
