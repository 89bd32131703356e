import Kernels

/// `layernorm` over the trailing `columns` values of each sample.
final class LayerNormKernel: NodeKernel {
    let rowsPerSample, columns: Int
    let weight, bias: [Float]?
    let eps: Float
    init(rowsPerSample: Int, columns: Int, weight: [Float]?, bias: [Float]?, eps: Float) {
        self.rowsPerSample = rowsPerSample
        self.columns = columns
        self.weight = weight
        self.bias = bias
        self.eps = eps
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        let rows = batch * rowsPerSample
        withOptionalPointer(weight) { w in
            withOptionalPointer(bias) { b in
                Normalization.layerNorm(buffers.input(0), buffers.output, rows: rows, columns: columns, weight: w, bias: b, eps: eps)
            }
        }
    }
}

func withOptionalPointer<R>(_ values: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let values else { return body(nil) }
    return values.withUnsafeBufferPointer { body($0.baseAddress) }
}
