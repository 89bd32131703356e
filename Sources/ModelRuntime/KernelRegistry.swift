import Kernels
import ModelGraph
import TensorCore

/// A node after plan-time rewrites: its output may have been renamed (a fused ReLU's output),
/// it may carry a post-op, and a conv may have absorbed the batchnorm that followed it.
struct PlannedNode {
    var node: Node
    var postOp: PostOp = .none
    var foldedBatchNorm: Node?
    /// INT8 chaining (`KernelRegistry.chainInt8`): this INT8 node writes its output as u8 with
    /// these parameters (its INT8 readers' `input_quant`) instead of f32.
    var u8Output: ActivationQuantization?
    /// This INT8 node's input arrives as u8, already quantized with its `input_quant`.
    var u8Input = false
}

/// What a node compiles to: a kernel writing a new buffer, or a view that reuses its input's bytes.
enum KernelBinding {
    case kernel(NodeKernel, outputShape: [Int])
    case view(outputShape: [Int])
}

/// Chooses the kernel for each node from its op and its tensors (DESIGN §5). Shapes are per sample
/// (the batch dimension removed). INT8 and sparse kernels plug in at `denseLinear`/`denseConv`.
enum KernelRegistry {
    static func bind(_ planned: PlannedNode, inputShapes: [[Int]], tensors: TensorMap) throws -> KernelBinding {
        let node = planned.node
        let shape = inputShapes[0]
        let count = shape.reduce(1, *)
        switch node.op {
        case .linear:
            if let int8 = try int8(planned, shape: shape, tensors: tensors) { return int8 }
            return try linear(planned, shape: shape, tensors: tensors)
        case .conv2d:
            if let int8 = try int8(planned, shape: shape, tensors: tensors) { return int8 }
            return try conv2d(planned, shape: shape, tensors: tensors)
        case .batchnorm2d:
            let channels = try channelCount(node, shape)
            let (scale, shift) = try batchNormAffine(node, channels: channels, tensors: tensors)
            return .kernel(BatchNormKernel(channels: channels, planeSize: count / channels, scale: scale, shift: shift), outputShape: shape)
        case .layernorm:
            return try layerNorm(node, shape: shape, tensors: tensors)
        case .relu: return .kernel(ActivationKernel(.relu, elementsPerSample: count), outputShape: shape)
        case .sigmoid: return .kernel(ActivationKernel(.sigmoid, elementsPerSample: count), outputShape: shape)
        case .tanh: return .kernel(ActivationKernel(.tanh, elementsPerSample: count), outputShape: shape)
        case .silu: return .kernel(ActivationKernel(.silu, elementsPerSample: count), outputShape: shape)
        case .gelu:
            let activation: Activation
            switch try GeluAttributes(node).approximate {
            case .none: activation = .gelu
            case .tanh: activation = .geluTanh
            }
            return .kernel(ActivationKernel(activation, elementsPerSample: count), outputShape: shape)
        case .add, .mul:
            guard inputShapes[1] == shape else {
                throw RuntimeError.shapeMismatch(node: node.name, reason: "\(node.op.rawValue) of shapes \(shape) and \(inputShapes[1]) (per sample) must match")
            }
            return .kernel(BinaryKernel(node.op == .add ? .add : .mul, elementsPerSample: count), outputShape: shape)
        case .softmax, .logSoftmax:
            let axis = try sampleAxis(SoftmaxAttributes(node).axis, "axis", node, sampleRank: shape.count)
            return .kernel(SoftmaxKernel(sampleShape: shape, axis: axis, log: node.op == .logSoftmax), outputShape: shape)
        case .maxpool2d, .avgpool2d:
            guard shape.count == 3 else { throw RuntimeError.shapeMismatch(node: node.name, reason: "\(node.op.rawValue) needs an [N, C, H, W] input, got per-sample \(shape)") }
            let a = try Pool2dAttributes(node)
            let g = Pool2dGeometry(inHeight: shape[1], inWidth: shape[2], kernel: (a.kernel.h, a.kernel.w),
                                   stride: (a.stride.h, a.stride.w), padding: (a.padding.h, a.padding.w),
                                   countIncludePad: a.countIncludePad)
            do { try g.validate() } catch let error as KernelError { throw RuntimeError.shapeMismatch(node: node.name, reason: error.description) }
            let kind: PoolKernel.Kind = node.op == .maxpool2d ? .max(g) : .average(g)
            return .kernel(PoolKernel(kind, channels: shape[0]), outputShape: [shape[0], g.outHeight, g.outWidth])
        case .globalAvgpool:
            guard shape.count == 3 else { throw RuntimeError.shapeMismatch(node: node.name, reason: "global_avgpool needs an [N, C, H, W] input, got per-sample \(shape)") }
            return .kernel(PoolKernel(.globalAverage(planeSize: shape[1] * shape[2]), channels: shape[0]), outputShape: [shape[0], 1, 1])
        case .flatten:
            let a = try FlattenAttributes(node)
            let start = try sampleAxis(a.startDim, "start_dim", node, sampleRank: shape.count)
            let end = try sampleAxis(a.endDim, "end_dim", node, sampleRank: shape.count)
            guard start <= end else { throw GraphError.badAttribute(node: node.name, attr: "end_dim", reason: "is before start_dim") }
            let merged = shape[start...end].reduce(1, *)
            return .view(outputShape: Array(shape[..<start]) + [merged] + Array(shape[(end + 1)...]))
        case .reshape:
            return .view(outputShape: try reshapeTarget(node, shape: shape))
        case .concat:
            let axis = try sampleAxis(ConcatAttributes(node).axis, "axis", node, sampleRank: shape.count)
            for other in inputShapes.dropFirst() {
                guard other.count == shape.count, other.indices.allSatisfy({ $0 == axis || other[$0] == shape[$0] }) else {
                    throw RuntimeError.shapeMismatch(node: node.name, reason: "concat inputs \(inputShapes) (per sample) differ off axis \(axis + 1)")
                }
            }
            var output = shape
            output[axis] = inputShapes.map { $0[axis] }.reduce(0, +)
            return .kernel(ConcatKernel(inputShapes: inputShapes, axis: axis), outputShape: output)
        case .dropout, .identity:
            return .view(outputShape: shape)
        }
    }

    // MARK: rows with parameters

    static func linear(_ planned: PlannedNode, shape: [Int], tensors: TensorMap) throws -> KernelBinding {
        let node = planned.node
        let weight = try denseF32(node, "weight", tensors: tensors)
        let bias = try optionalF32(node, "bias", tensors: tensors)
        guard weight.shape.rank == 2, let inFeatures = shape.last, weight.shape[1] == inFeatures else {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "linear weight \(weight.shape) does not fit input features \(shape.last ?? 0)")
        }
        let dense = try kernelCall(node) { try DenseLinear(weight: weight, bias: bias, postOp: planned.postOp) }
        let rowsPerSample = shape.dropLast().reduce(1, *)
        let sparse = rowsPerSample == 1 ? try kernelCall(node) { try SparseLinearKernel.ifWorthwhile(dense: dense, weight: weight, bias: bias, postOp: planned.postOp) } : nil
        let kernel: NodeKernel = sparse ?? (rowsPerSample == 1 ? LinearKernel(dense: dense) as NodeKernel : RowsLinearKernel(dense: dense, rowsPerSample: rowsPerSample))
        return .kernel(kernel, outputShape: shape.dropLast() + [weight.shape[0]])
    }

    static func conv2d(_ planned: PlannedNode, shape: [Int], tensors: TensorMap) throws -> KernelBinding {
        let node = planned.node
        guard shape.count == 3 else { throw RuntimeError.shapeMismatch(node: node.name, reason: "conv2d needs an [N, C, H, W] input, got per-sample \(shape)") }
        var weight = try denseF32(node, "weight", tensors: tensors)
        var bias = try optionalF32(node, "bias", tensors: tensors)
        guard weight.shape.rank == 4 else { throw RuntimeError.shapeMismatch(node: node.name, reason: "conv2d weight must be [O, I/groups, kh, kw], got \(weight.shape)") }
        let g = try convGeometry(node, input: shape, weight: weight.shape)
        if let bn = planned.foldedBatchNorm {
            (weight, bias) = try foldBatchNorm(bn, weight: weight, bias: bias, tensors: tensors)
        }
        let conv = try kernelCall(node) { try Conv2d(geometry: g, weight: weight, bias: bias, postOp: planned.postOp) }
        let sparse = try kernelCall(node) { try SparseConv2dKernel.ifWorthwhile(dense: conv, weight: weight, bias: bias, postOp: planned.postOp) }
        return .kernel(sparse ?? Conv2dKernel(conv: conv), outputShape: [g.outChannels, g.outHeight, g.outWidth])
    }

    static func layerNorm(_ node: Node, shape: [Int], tensors: TensorMap) throws -> KernelBinding {
        let weight = try optionalF32(node, "weight", tensors: tensors)
        let bias = try optionalF32(node, "bias", tensors: tensors)
        // Normalised over the trailing dims `normalized_shape` names (PyTorch), else those the weight covers.
        let a = try LayerNormAttributes(node)
        let normalized = a.normalizedShape ?? weight?.shape.dims ?? []
        guard !normalized.isEmpty, normalized.count <= shape.count, Array(shape.suffix(normalized.count)) == normalized,
              weight.map({ $0.shape.dims == normalized }) ?? true else {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "layernorm over \(normalized) does not fit per-sample \(shape) (weight \(weight?.shape.dims ?? []))")
        }
        let normalizedRank = normalized.count
        if let bias, let weight, bias.shape != weight.shape {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "layernorm bias \(bias.shape) differs from weight \(weight.shape)")
        }
        let columns = shape.suffix(normalizedRank).reduce(1, *)
        let eps = Float(a.eps)
        return .kernel(LayerNormKernel(rowsPerSample: shape.reduce(1, *) / columns, columns: columns,
                                       weight: weight?.floats, bias: bias?.floats, eps: eps), outputShape: shape)
    }

    // MARK: helpers

    /// A parameter as f32; quantized or half-precision weights are dequantized / widened
    /// (the INT8 kernels, when present, take those before this fallback).
    static func denseF32(_ node: Node, _ role: String, tensors: TensorMap) throws -> Tensor {
        guard let name = node.params[role] else { throw GraphError.missingParam(node: node.name, role: role) }
        guard let tensor = tensors[name] else { throw GraphError.missingTensor(node: node.name, role: role, tensor: name) }
        return tensor.toF32()
    }

    static func optionalF32(_ node: Node, _ role: String, tensors: TensorMap) throws -> Tensor? {
        node.params[role] == nil ? nil : try denseF32(node, role, tensors: tensors)
    }

    static func channelCount(_ node: Node, _ shape: [Int]) throws -> Int {
        guard let channels = shape.first, channels > 0 else {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "\(node.op.rawValue) needs a channel dimension, got per-sample \(shape)")
        }
        return channels
    }

    /// A batchnorm node's γ, β, running mean and variance (each `channels` long) and its eps.
    private static func batchNormParameters(_ node: Node, channels: Int, tensors: TensorMap) throws
        -> (gamma: [Float], beta: [Float], mean: [Float], variance: [Float], eps: Double) {
        let gamma = try denseF32(node, "weight", tensors: tensors).floats
        let beta = try denseF32(node, "bias", tensors: tensors).floats
        let mean = try denseF32(node, "running_mean", tensors: tensors).floats
        let variance = try denseF32(node, "running_var", tensors: tensors).floats
        guard [gamma, beta, mean, variance].allSatisfy({ $0.count == channels }) else {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "batchnorm2d parameters must each have \(channels) values")
        }
        return (gamma, beta, mean, variance, try BatchNormAttributes(node).eps)
    }

    /// Per-channel `scale = γ / √(var + eps)`, `shift = β − mean · scale` (double precision).
    static func batchNormAffine(_ node: Node, channels: Int, tensors: TensorMap) throws -> (scale: [Float], shift: [Float]) {
        let (gamma, beta, mean, variance, eps) = try batchNormParameters(node, channels: channels, tensors: tensors)
        var scale = [Float](repeating: 0, count: channels), shift = scale
        for c in 0..<channels {
            let s = Double(gamma[c]) / (Double(variance[c]) + eps).squareRoot()
            scale[c] = Float(s)
            shift[c] = Float(Double(beta[c]) - Double(mean[c]) * s)
        }
        return (scale, shift)
    }

    /// Conv weights and bias with the following batchnorm folded in: `W'[o] = W[o]·s[o]`, `b' = (b − mean)·s + β`.
    static func foldBatchNorm(_ bn: Node, weight: Tensor, bias: Tensor?, tensors: TensorMap) throws -> (Tensor, Tensor) {
        let channels = weight.shape[0]
        let (gamma, beta, mean, variance, eps) = try batchNormParameters(bn, channels: channels, tensors: tensors)
        let perChannel = weight.elementCount / channels
        var w = weight.floats
        let b = bias?.floats ?? [Float](repeating: 0, count: channels)
        var folded = [Float](repeating: 0, count: channels)
        for c in 0..<channels {
            let s = Double(gamma[c]) / (Double(variance[c]) + eps).squareRoot()
            for i in 0..<perChannel { w[c * perChannel + i] = Float(Double(w[c * perChannel + i]) * s) }
            folded[c] = Float((Double(b[c]) - Double(mean[c])) * s + Double(beta[c]))
        }
        return (Tensor(w, shape: weight.shape), Tensor(folded, shape: [channels]))
    }

    /// The per-sample output shape of a reshape: after the batch entry, 0 copies the input's size at
    /// that position and one -1 is inferred (see `ReshapeAttributes`).
    static func reshapeTarget(_ node: Node, shape: [Int]) throws -> [Int] {
        let target = try ReshapeAttributes(node).shape
        var sample = Array(target.dropFirst())
        for i in sample.indices where sample[i] == 0 {
            guard i < shape.count else { throw RuntimeError.shapeMismatch(node: node.name, reason: "reshape \(target): no input dim \(i + 1) to copy for 0") }
            sample[i] = shape[i]
        }
        let count = shape.reduce(1, *)
        let known = sample.filter { $0 != -1 }.reduce(1, *)
        if let i = sample.firstIndex(of: -1) {
            guard known > 0, count % known == 0 else { throw RuntimeError.shapeMismatch(node: node.name, reason: "cannot reshape per-sample \(shape) to \(target)") }
            sample[i] = count / known
        }
        guard sample.reduce(1, *) == count else {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "cannot reshape per-sample \(shape) to \(target)")
        }
        return sample
    }

    /// An axis of the full (batched) shape, negative counting from the end, as an index into the
    /// per-sample shape; the batch axis itself is refused.
    static func sampleAxis(_ axis: Int, _ attribute: String, _ node: Node, sampleRank: Int) throws -> Int {
        let rank = sampleRank + 1
        let resolved = axis < 0 ? axis + rank : axis
        guard resolved >= 0, resolved < rank else {
            throw GraphError.badAttribute(node: node.name, attr: attribute, reason: "is \(axis), outside rank \(rank)")
        }
        guard resolved >= 1 else {
            throw RuntimeError.unsupported(node: node.name, reason: "\(node.op.rawValue) over the batch axis is not supported")
        }
        return resolved - 1
    }

    /// Maps kernel-layer errors to messages that name the node.
    static func kernelCall<T>(_ node: Node, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as KernelError {
            throw RuntimeError.unsupported(node: node.name, reason: error.description)
        }
    }

    /// The conv2d geometry of a node for a per-sample input shape [C, H, W] and its weight shape.
    static func convGeometry(_ node: Node, input shape: [Int], weight: Shape) throws -> Conv2dGeometry {
        let a = try Conv2dAttributes(node)
        return Conv2dGeometry(inChannels: shape[0], inHeight: shape[1], inWidth: shape[2], outChannels: weight[0],
                              kernel: (weight[2], weight[3]), stride: (a.stride.h, a.stride.w),
                              padding: (a.padding.h, a.padding.w), dilation: (a.dilation.h, a.dilation.w), groups: a.groups)
    }
}
