import Kernels
import TensorCore

/// Inference `batchnorm2d` not folded into a conv: `y = x · scale[c] + shift[c]` with
/// `scale = γ / √(var + eps)` and `shift = β − mean · scale` computed once at plan time.
final class BatchNormKernel: NodeKernel {
    let channels, planeSize: Int
    let scale, shift: [Float]
    init(channels: Int, planeSize: Int, scale: [Float], shift: [Float]) {
        self.channels = channels
        self.planeSize = planeSize
        self.scale = scale
        self.shift = shift
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        scale.withUnsafeBufferPointer { s in
            shift.withUnsafeBufferPointer { t in
                Elementwise.channelAffine(buffers.input(0), buffers.output, batch: batch, channels: channels,
                                          planeSize: planeSize, scale: s.baseAddress!, shift: t.baseAddress!)
            }
        }
    }
}
