import Kernels

/// `linear` applied to the last dim of a higher-rank input: `rowsPerSample` rows per sample.
final class RowsLinearKernel: NodeKernel {
    let dense: DenseLinear
    let rowsPerSample: Int
    init(dense: DenseLinear, rowsPerSample: Int) {
        self.dense = dense
        self.rowsPerSample = rowsPerSample
    }

    func prepare(batch: Int) throws { try dense.prepare(batch: batch * rowsPerSample) }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        try dense.run(batch: batch * rowsPerSample, input: buffers.input(0), output: buffers.output, context: context)
    }
}
