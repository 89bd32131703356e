import Kernels
import TensorCore

/// INT8 `linear` (quantized graph convention): the f32 input is quantized with the node's
/// `input_quant`, multiplied u8×s8→s32 on oneDNN, and dequantized to f32 with bias and a fused
/// ReLU. `reference` runs the plain C product instead (same integers).
final class Int8LinearKernel: NodeKernel {
    let layer: Int8Linear
    let rowsPerSample: Int
    let relu: Bool
    let reference: Bool

    init(layer: Int8Linear, rowsPerSample: Int, relu: Bool, reference: Bool) {
        self.layer = layer
        self.rowsPerSample = rowsPerSample
        self.relu = relu
        self.reference = reference
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        let rows = batch * rowsPerSample
        let x = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: rows * layer.k)
        let acc = UnsafeMutableBufferPointer<Int32>.allocate(capacity: rows * layer.n)
        defer { x.deallocate(); acc.deallocate() }
        layer.input.quantize(buffers.input(0), count: rows * layer.k, into: x.baseAddress!)
        try layer.forward(x.baseAddress!, m: rows, accumulators: acc.baseAddress!, output: UnsafeMutableRawPointer(buffers.output),
                          mode: .f32(relu: relu), reference: reference)
    }
}
