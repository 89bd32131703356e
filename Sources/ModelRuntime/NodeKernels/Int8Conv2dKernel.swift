import CKernels
import Kernels
import TensorCore

/// INT8 `conv2d` (groups = 1): per sample, quantize the input to u8, im2col (padding reads the
/// zero point, i.e. real 0), u8×s8→s32 over the patches, dequantize with bias and fused ReLU, and
/// write NCHW.
final class Int8Conv2dKernel: NodeKernel {
    let layer: Int8Linear
    let geometry: Conv2dGeometry
    let relu: Bool
    let reference: Bool

    init(layer: Int8Linear, geometry: Conv2dGeometry, relu: Bool, reference: Bool) {
        self.layer = layer
        self.geometry = geometry
        self.relu = relu
        self.reference = reference
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        let g = geometry
        let inCount = g.inChannels * g.inHeight * g.inWidth
        let positions = g.outHeight * g.outWidth
        let x = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: inCount)
        let rows = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: positions * layer.k)
        let acc = UnsafeMutableBufferPointer<Int32>.allocate(capacity: positions * layer.n)
        let y = UnsafeMutableBufferPointer<Float>.allocate(capacity: positions * layer.n)
        defer { x.deallocate(); rows.deallocate(); acc.deallocate(); y.deallocate() }
        for sample in 0..<batch {
            layer.input.quantize(buffers.input(0) + sample * inCount, count: inCount, into: x.baseAddress!)
            ck_im2col_u8(x.baseAddress, g.inChannels, g.inHeight, g.inWidth, g.kernel.h, g.kernel.w, g.stride.h, g.stride.w,
                         g.padding.h, g.padding.w, g.dilation.h, g.dilation.w, g.outHeight, g.outWidth,
                         UInt8(layer.input.zeroPoint), rows.baseAddress)
            try layer.forward(rows.baseAddress!, m: positions, accumulators: acc.baseAddress!,
                              output: UnsafeMutableRawPointer(y.baseAddress!), mode: .f32(relu: relu), reference: reference)
            let out = buffers.output + sample * layer.n * positions
            for p in 0..<positions {
                for o in 0..<layer.n { out[o * positions + p] = y[p * layer.n + o] }
            }
        }
    }
}
