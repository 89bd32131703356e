import Kernels
import ModelGraph
import TensorCore

/// A node after plan-time rewrites: its output may have been renamed (a fused ReLU's output),
/// it may carry a post-op, and a conv may have absorbed the batchnorm that followed it.
struct PlannedNode {
    var node: Node
    var postOp: PostOp = .none
    var foldedBatchNorm: Node?
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
            let approximate = try node.stringAttribute("approximate", default: "none")
            guard approximate == "none" || approximate == "tanh" else {
                throw GraphError.badAttribute(node: node.name, attr: "approximate", reason: "must be \"none\" or \"tanh\", got \"\(approximate)\"")
            }
            return .kernel(ActivationKernel(approximate == "tanh" ? .geluTanh : .gelu, elementsPerSample: count), outputShape: shape)
        case .add, .mul:
            guard inputShapes[1] == shape else {
                throw RuntimeError.shapeMismatch(node: node.name, reason: "\(node.op.rawValue) of shapes \(shape) and \(inputShapes[1]) (per sample) must match")
            }
            return .kernel(BinaryKernel(node.op == .add ? .add : .mul, elementsPerSample: count), outputShape: shape)
        case .softmax, .logSoftmax:
            let axis = try node.sampleAxis("axis", default: -1, rank: shape.count + 1)
            return .kernel(SoftmaxKernel(sampleShape: shape, axis: axis, log: node.op == .logSoftmax), outputShape: shape)
        case .maxpool2d, .avgpool2d:
            guard shape.count == 3 else { throw RuntimeError.shapeMismatch(node: node.name, reason: "\(node.op.rawValue) needs an [N, C, H, W] input, got per-sample \(shape)") }
            let kernel = try node.pairAttribute("kernel", default: (0, 0))
            let g = Pool2dGeometry(inHeight: shape[1], inWidth: shape[2], kernel: kernel,
                                   stride: try node.pairAttribute("stride", default: kernel),
                                   padding: try node.pairAttribute("padding", default: (0, 0)))
            do { try g.validate() } catch let error as KernelError { throw RuntimeError.shapeMismatch(node: node.name, reason: error.description) }
            let kind: PoolKernel.Kind = node.op == .maxpool2d ? .max(g) : .average(g)
            return .kernel(PoolKernel(kind, channels: shape[0]), outputShape: [shape[0], g.outHeight, g.outWidth])
        case .globalAvgpool:
            guard shape.count == 3 else { throw RuntimeError.shapeMismatch(node: node.name, reason: "global_avgpool needs an [N, C, H, W] input, got per-sample \(shape)") }
            return .kernel(PoolKernel(.globalAverage(planeSize: shape[1] * shape[2]), channels: shape[0]), outputShape: [shape[0], 1, 1])
        case .flatten:
            let rank = shape.count + 1
            let start = try node.sampleAxis("start_dim", default: 1, rank: rank)
            let end = try node.sampleAxis("end_dim", default: -1, rank: rank)
            guard start <= end else { throw GraphError.badAttribute(node: node.name, attr: "end_dim", reason: "is before start_dim") }
            let merged = shape[start...end].reduce(1, *)
            return .view(outputShape: Array(shape[..<start]) + [merged] + Array(shape[(end + 1)...]))
        case .reshape:
            return .view(outputShape: try reshapeTarget(node, shape: shape))
        case .concat:
            let axis = try node.sampleAxis("axis", default: 1, rank: shape.count + 1)
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
        let kernel: NodeKernel = rowsPerSample == 1 ? LinearKernel(dense: dense) : RowsLinearKernel(dense: dense, rowsPerSample: rowsPerSample)
        return .kernel(kernel, outputShape: shape.dropLast() + [weight.shape[0]])
    }

    static func conv2d(_ planned: PlannedNode, shape: [Int], tensors: TensorMap) throws -> KernelBinding {
        let node = planned.node
        guard shape.count == 3 else { throw RuntimeError.shapeMismatch(node: node.name, reason: "conv2d needs an [N, C, H, W] input, got per-sample \(shape)") }
        var weight = try denseF32(node, "weight", tensors: tensors)
        var bias = try optionalF32(node, "bias", tensors: tensors)
        guard weight.shape.rank == 4 else { throw RuntimeError.shapeMismatch(node: node.name, reason: "conv2d weight must be [O, I/groups, kh, kw], got \(weight.shape)") }
        let g = Conv2dGeometry(inChannels: shape[0], inHeight: shape[1], inWidth: shape[2], outChannels: weight.shape[0],
                               kernel: (weight.shape[2], weight.shape[3]),
                               stride: try node.pairAttribute("stride", default: (1, 1)),
                               padding: try node.pairAttribute("padding", default: (0, 0)),
                               dilation: try node.pairAttribute("dilation", default: (1, 1)),
                               groups: try node.intAttribute("groups", default: 1))
        if let bn = planned.foldedBatchNorm {
            (weight, bias) = try foldBatchNorm(bn, weight: weight, bias: bias, tensors: tensors)
        }
        let conv = try kernelCall(node) { try Conv2d(geometry: g, weight: weight, bias: bias, postOp: planned.postOp) }
        return .kernel(Conv2dKernel(conv: conv), outputShape: [g.outChannels, g.outHeight, g.outWidth])
    }

    static func layerNorm(_ node: Node, shape: [Int], tensors: TensorMap) throws -> KernelBinding {
        let weight = try optionalF32(node, "weight", tensors: tensors)
        let bias = try optionalF32(node, "bias", tensors: tensors)
        // Normalised over the trailing dims the weight covers (PyTorch normalized_shape); the last dim without one.
        let normalizedRank = weight?.shape.rank ?? 1
        guard normalizedRank <= shape.count, weight.map({ Array(shape.suffix(normalizedRank)) == $0.shape.dims }) ?? true else {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "layernorm weight \(weight?.shape.dims ?? []) does not match the trailing dims of \(shape)")
        }
        if let bias, let weight, bias.shape != weight.shape {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "layernorm bias \(bias.shape) differs from weight \(weight.shape)")
        }
        let columns = shape.suffix(normalizedRank).reduce(1, *)
        let eps = Float(try node.doubleAttribute("eps", default: 1e-5))
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

    /// Per-channel `scale = γ / √(var + eps)`, `shift = β − mean · scale` (double precision).
    static func batchNormAffine(_ node: Node, channels: Int, tensors: TensorMap) throws -> (scale: [Float], shift: [Float]) {
        let gamma = try denseF32(node, "weight", tensors: tensors).floats
        let beta = try denseF32(node, "bias", tensors: tensors).floats
        let mean = try denseF32(node, "running_mean", tensors: tensors).floats
        let variance = try denseF32(node, "running_var", tensors: tensors).floats
        guard [gamma, beta, mean, variance].allSatisfy({ $0.count == channels }) else {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "batchnorm2d parameters must each have \(channels) values")
        }
        let eps = try node.doubleAttribute("eps", default: 1e-5)
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
        let gamma = try denseF32(bn, "weight", tensors: tensors).floats
        let beta = try denseF32(bn, "bias", tensors: tensors).floats
        let mean = try denseF32(bn, "running_mean", tensors: tensors).floats
        let variance = try denseF32(bn, "running_var", tensors: tensors).floats
        guard [gamma, beta, mean, variance].allSatisfy({ $0.count == channels }) else {
            throw RuntimeError.shapeMismatch(node: bn.name, reason: "batchnorm2d parameters must each have \(channels) values")
        }
        let eps = try bn.doubleAttribute("eps", default: 1e-5)
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

    static func reshapeTarget(_ node: Node, shape: [Int]) throws -> [Int] {
        guard let target = try node.intListAttribute("shape"), let first = target.first else {
            throw GraphError.badAttribute(node: node.name, attr: "shape", reason: "is required")
        }
        guard first == -1 || first == 0 else {
            throw GraphError.badAttribute(node: node.name, attr: "shape", reason: "must start with -1 (the batch dimension), got \(target)")
        }
        var sample = Array(target.dropFirst())
        let count = shape.reduce(1, *)
        let unknown = sample.indices.filter { sample[$0] == -1 }
        guard unknown.count <= 1, sample.allSatisfy({ $0 == -1 || $0 > 0 }) else {
            throw GraphError.badAttribute(node: node.name, attr: "shape", reason: "may infer at most one non-batch dimension: \(target)")
        }
        let known = sample.filter { $0 != -1 }.reduce(1, *)
        if let i = unknown.first {
            guard count % known == 0 else { throw RuntimeError.shapeMismatch(node: node.name, reason: "cannot reshape per-sample \(shape) to \(target)") }
            sample[i] = count / known
        }
        guard sample.reduce(1, *) == count else {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "cannot reshape per-sample \(shape) to \(target)")
        }
        return sample
    }

    /// Maps kernel-layer errors to messages that name the node.
    static func kernelCall<T>(_ node: Node, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as KernelError {
            throw RuntimeError.unsupported(node: node.name, reason: error.description)
        }
    }
}
