import Kernels

/// `add` / `mul` of two same-shaped inputs.
final class BinaryKernel: NodeKernel {
    enum Operation { case add, mul }
    let operation: Operation
    let elementsPerSample: Int
    init(_ operation: Operation, elementsPerSample: Int) {
        self.operation = operation
        self.elementsPerSample = elementsPerSample
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        let count = batch * elementsPerSample
        switch operation {
        case .add: Elementwise.add(buffers.input(0), buffers.input(1), buffers.output, count: count)
        case .mul: Elementwise.mul(buffers.input(0), buffers.input(1), buffers.output, count: count)
        }
    }
}
