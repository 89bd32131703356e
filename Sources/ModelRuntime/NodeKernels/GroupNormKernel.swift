import Kernels

/// `groupnorm` / `instancenorm`: each sample's `groups` groups of channels normalised over their
/// values (layer norm over rows of `channels / groups · planeSize`), then `weight[c]`, `bias[c]`
/// per channel.
final class GroupNormKernel: NodeKernel {
    let channels, groups, planeSize: Int
    let weight, bias: [Float]
    let eps: Float
    init(channels: Int, groups: Int, planeSize: Int, weight: [Float], bias: [Float], eps: Float) {
        (self.channels, self.groups, self.planeSize) = (channels, groups, planeSize)
        (self.weight, self.bias, self.eps) = (weight, bias, eps)
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        Normalization.layerNorm(buffers.input(0), buffers.output, rows: batch * groups, columns: channels / groups * planeSize,
                                weight: nil, bias: nil, eps: eps)
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                Elementwise.channelAffine(buffers.output, buffers.output, batch: batch, channels: channels, planeSize: planeSize,
                                          scale: w.baseAddress!, shift: b.baseAddress!)
            }
        }
    }
}

/// `topk` along one non-batch axis: two outputs, the values and their indices.
final class TopKKernel: NodeKernel {
    let outerPerSample, length, inner, k: Int
    let largest: Bool
    init(outerPerSample: Int, length: Int, inner: Int, k: Int, largest: Bool) {
        (self.outerPerSample, self.length, self.inner, self.k, self.largest) = (outerPerSample, length, inner, k, largest)
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        TopK.run(buffers.input(0), values: buffers.output(0), indices: buffers.output(1), outer: batch * outerPerSample,
                 length: length, inner: inner, k: k, largest: largest)
    }
}

/// `resize` of each `[H, W]` plane.
final class ResizeKernel: NodeKernel {
    let resize: Resize2d
    let planesPerSample: Int
    init(_ resize: Resize2d, planesPerSample: Int) {
        self.resize = resize
        self.planesPerSample = planesPerSample
    }

    func run(batch: Int, buffers: KernelBuffers, context: ExecutionContext) throws {
        resize.run(buffers.input(0), buffers.output, planes: batch * planesPerSample)
    }
}
