import Kernels

/// `softmax` / `log_softmax` over one per-sample axis.
final class SoftmaxKernel: NodeKernel {
    let outerPerSample, axisLength, inner: Int
    let log: Bool
    init(sampleShape: [Int], axis: Int, log: Bool) {
        outerPerSample = sampleShape[..<axis].reduce(1, *)
        axisLength = sampleShape[axis]
        inner = sampleShape[(axis + 1)...].reduce(1, *)
        self.log = log
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        Normalization.softmax(buffers.input(0), buffers.output, outer: batch * outerPerSample,
                              axisLength: axisLength, inner: inner, log: log)
    }
}
