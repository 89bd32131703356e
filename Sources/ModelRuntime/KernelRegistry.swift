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

/// What a node compiles to: a kernel writing a new buffer, a view that reuses its input's bytes, or
/// a constant (a buffer without the batch dimension, written by its kernel).
enum KernelBinding {
    case kernel(NodeKernel, outputShape: [Int])
    case view(outputShape: [Int])
    case constant(NodeKernel, shape: [Int])
}

/// Chooses the kernel for each node from its op and its tensors (DESIGN §5). Shapes are per sample
/// (the batch dimension removed). INT8 and sparse kernels plug in at `denseLinear`/`denseConv`.
enum KernelRegistry {
    /// `inputShapes`: per sample, except for inputs flagged in `constantInputs` (full shapes, no batch).
    static func bind(_ planned: PlannedNode, inputShapes: [[Int]], constantInputs: [Bool], tensors: TensorMap) throws -> KernelBinding {
        let node = planned.node
        if node.op == .constant {
            let tensor = try denseF32(node, "value", tensors: tensors)
            return .constant(ConstantKernel(tensor), shape: tensor.shape.dims)
        }
        guard !inputShapes.isEmpty else { throw RuntimeError.shapeMismatch(node: node.name, reason: "has no inputs") }
        guard !node.movesBatch else {
            throw RuntimeError.unsupported(node: node.name, reason: "\(node.op.rawValue) moves the batch axis, which only a plan for one concrete batch size can run (bindWhole)")
        }
        switch node.op {
        case .add, .sub, .mul, .div, .pow, .min, .max, .equal, .less, .greater, .where:
            return try broadcasting(node, inputShapes: inputShapes, constantInputs: constantInputs)
        case .gather: return try gather(node, inputShapes: inputShapes, constantInputs: constantInputs)
        default: break
        }
        if let constant = constantInputs.firstIndex(of: true) {
            throw RuntimeError.unsupported(node: node.name, reason: "input '\(node.inputs[constant])' is a constant; \(node.op.rawValue) needs values with the batch dimension (fold constants before planning)")
        }
        let shape = inputShapes[0]
        let count = shape.reduce(1, *)
        switch node.op {
        case .constant, .add, .sub, .mul, .div, .pow, .min, .max, .equal, .less, .greater, .where, .gather:
            preconditionFailure("bound above")
        case .softplus: return .kernel(UnaryKernel(.softplus, elementsPerSample: count), outputShape: shape)
        case .mish: return .kernel(UnaryKernel(.mish, elementsPerSample: count), outputShape: shape)
        case .not: return .kernel(UnaryKernel(.not, elementsPerSample: count), outputShape: shape)
        case .cast:
            let to = try CastAttributes(node).to
            if to.isFloatingPoint { return .view(outputShape: shape) }
            return .kernel(UnaryKernel(to == .bool ? .nonZero : .trunc, elementsPerSample: count), outputShape: shape)
        case .matmul: return try matmul(node, inputShapes: inputShapes)
        case .slice: return try slice(node, shape: shape)
        case .expand: return try expand(node, shape: shape)
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
        case .clip:
            let a = try ClipAttributes(node)
            return .kernel(UnaryKernel(.clip(min: Float(a.min), max: Float(a.max)), elementsPerSample: count), outputShape: shape)
        case .hardsigmoid:
            let a = try HardSigmoidAttributes(node)
            return .kernel(UnaryKernel(.hardSigmoid(alpha: Float(a.alpha), beta: Float(a.beta)), elementsPerSample: count), outputShape: shape)
        case .leakyRelu:
            return .kernel(UnaryKernel(.leakyRelu(alpha: Float(try LeakyReluAttributes(node).alpha)), elementsPerSample: count), outputShape: shape)
        case .hardswish: return .kernel(UnaryKernel(.hardSwish, elementsPerSample: count), outputShape: shape)
        case .erf: return .kernel(UnaryKernel(.erf, elementsPerSample: count), outputShape: shape)
        case .sqrt: return .kernel(UnaryKernel(.sqrt, elementsPerSample: count), outputShape: shape)
        case .reciprocal: return .kernel(UnaryKernel(.reciprocal, elementsPerSample: count), outputShape: shape)
        case .exp: return .kernel(UnaryKernel(.exp, elementsPerSample: count), outputShape: shape)
        case .log: return .kernel(UnaryKernel(.log, elementsPerSample: count), outputShape: shape)
        case .neg: return .kernel(UnaryKernel(.neg, elementsPerSample: count), outputShape: shape)
        case .abs: return .kernel(UnaryKernel(.abs, elementsPerSample: count), outputShape: shape)
        case .globalMaxpool:
            guard shape.count == 3 else { throw RuntimeError.shapeMismatch(node: node.name, reason: "global_maxpool needs an [N, C, H, W] input, got per-sample \(shape)") }
            return .kernel(ReduceKernel(.max, outerPerSample: shape[0], length: shape[1] * shape[2], inner: 1), outputShape: [shape[0], 1, 1])
        case .reduceMean, .reduceSum, .reduceMax, .reduceMin:
            return try reduce(node, shape: shape)
        case .squeeze, .unsqueeze:
            return .view(outputShape: try sampleOutputShape(node, shape))
        case .transpose:
            return try transpose(node, shape: shape)
        case .pad:
            return try pad(node, shape: shape)
        case .softmax, .logSoftmax:
            let axis = try sampleAxis(SoftmaxAttributes(node).axis, "axis", node, sampleRank: shape.count)
            return .kernel(SoftmaxKernel(sampleShape: shape, axis: axis, log: node.op == .logSoftmax), outputShape: shape)
        case .maxpool2d, .avgpool2d:
            guard shape.count == 3 else { throw RuntimeError.shapeMismatch(node: node.name, reason: "\(node.op.rawValue) needs an [N, C, H, W] input, got per-sample \(shape)") }
            let a = try Pool2dAttributes(node)
            let g = Pool2dGeometry(inHeight: shape[1], inWidth: shape[2], kernel: (a.kernel.h, a.kernel.w),
                                   stride: (a.stride.h, a.stride.w), padding: (a.padding.h, a.padding.w),
                                   paddingEnd: (a.paddingEnd.h, a.paddingEnd.w), ceilMode: a.ceilMode,
                                   countIncludePad: a.countIncludePad)
            do { try g.validate() } catch let error as KernelError { throw RuntimeError.shapeMismatch(node: node.name, reason: error.description) }
            let kind: PoolKernel.Kind = node.op == .maxpool2d ? .max(g) : .average(g)
            return .kernel(PoolKernel(kind, channels: shape[0]), outputShape: [shape[0], g.outHeight, g.outWidth])
        case .globalAvgpool:
            guard shape.count == 3 else { throw RuntimeError.shapeMismatch(node: node.name, reason: "global_avgpool needs an [N, C, H, W] input, got per-sample \(shape)") }
            return .kernel(PoolKernel(.globalAverage(planeSize: shape[1] * shape[2]), channels: shape[0]), outputShape: [shape[0], 1, 1])
        case .flatten, .reshape:
            return .view(outputShape: try sampleOutputShape(node, shape))
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
                              padding: (a.padding.h, a.padding.w), paddingEnd: (a.paddingEnd.h, a.paddingEnd.w),
                              dilation: (a.dilation.h, a.dilation.w), groups: a.groups)
    }

    // MARK: rows of the ONNX vocabulary (docs/ops.md)

    /// A node that moves elements across the batch (`Node.movesBatch`), in a plan for one concrete
    /// batch: bound on its input's full shape; the output shape returned is full too.
    static func bindWhole(_ planned: PlannedNode, inputShape full: [Int]) throws -> KernelBinding {
        let node = planned.node
        let output = try node.outputShape(inputs: [Shape(full)], params: [:]).dims
        switch node.op {
        case .reshape:
            return .view(outputShape: output)
        case .transpose:
            let perm = try TransposeAttributes(node).resolved(rank: full.count, node: node)
            let inStrides = TensorOps.contiguousStrides(full)
            return .kernel(StridedCopyKernel(dims: output.map(Int64.init), sourceStrides: perm.map { inStrides[$0] },
                                             destinationStrides: TensorOps.contiguousStrides(output)),
                           outputShape: output)
        default:
            throw RuntimeError.unsupported(node: node.name, reason: "\(node.op.rawValue) cannot move the batch axis")
        }
    }

    /// The per-sample output shape by ModelGraph's shape rule (batch placeholder 1; for ops that
    /// never touch the batch axis).
    static func sampleOutputShape(_ node: Node, _ shape: [Int]) throws -> [Int] {
        Array(try node.outputShape(inputs: [Shape([1] + shape)], params: [:]).dims.dropFirst())
    }

    /// Full shapes of a node's inputs for its shape rule: batched ones with the batch as 1, constants
    /// as they are. Refuses an operand of lower rank than a constant (its batch axis would move).
    static func fullShapes(_ node: Node, _ inputShapes: [[Int]], _ constantInputs: [Bool]) throws -> [[Int]] {
        guard constantInputs.contains(false) else {
            throw RuntimeError.unsupported(node: node.name, reason: "every input is a constant (fold them before planning)")
        }
        let full = zip(inputShapes, constantInputs).map { shape, constant in constant ? shape : [1] + shape }
        let rank = full.map(\.count).max()!
        for (i, constant) in constantInputs.enumerated() where !constant && full[i].count != rank {
            throw RuntimeError.unsupported(node: node.name, reason: "\(node.op.rawValue) of a rank-\(full[i].count) value with a rank-\(rank) operand would move the batch axis")
        }
        return full
    }

    /// A broadcast layout over full shapes where the batched operands' dim 0 is the batch (stride one
    /// sample) and a constant's broadcasts (its leading size must be 1).
    static func batchLayout(_ node: Node, output: [Int], operands: [[Int]], constantInputs: [Bool]) throws -> BroadcastLayout {
        guard output[0] == 1 else {
            throw RuntimeError.shapeMismatch(node: node.name, reason: "a constant operand must have size 1 along the batch axis, got \(operands)")
        }
        // A placeholder batch of 2 keeps the batched operands' dim 0 from reading as a broadcast.
        let shapes = zip(operands, constantInputs).map { shape, constant in constant ? shape : [2] + shape.dropFirst() }
        return BroadcastLayout(output: [2] + output.dropFirst(), operands: shapes)
    }

    /// Binary ops and `where` with broadcasting: equal per-sample shapes of `add`/`mul` use the
    /// bit-exact SIMD kernels; anything else the broadcasting kernel. A constant has no batch dimension.
    static func broadcasting(_ node: Node, inputShapes: [[Int]], constantInputs: [Bool]) throws -> KernelBinding {
        let full = try fullShapes(node, inputShapes, constantInputs)
        let output = try node.outputShape(inputs: full.map { Shape($0) }, params: [:]).dims
        let sample = Array(output.dropFirst())
        if !constantInputs.contains(true), inputShapes[0] == inputShapes[1], node.op == .add || node.op == .mul {
            return .kernel(BinaryKernel(node.op == .add ? .add : .mul, elementsPerSample: sample.reduce(1, *)), outputShape: sample)
        }
        let layout = try batchLayout(node, output: output, operands: full, constantInputs: constantInputs)
        let operations: [OpKind: BinaryOperation] = [.add: .add, .sub: .sub, .mul: .mul, .div: .div, .pow: .pow, .min: .min,
                                                      .max: .max, .equal: .equal, .less: .less, .greater: .greater]
        let operation: BroadcastKernel.Operation = operations[node.op].map { .binary($0) } ?? .select
        return .kernel(BroadcastKernel(operation, layout: layout), outputShape: sample)
    }

    /// `matmul` of two batched values (leading dims broadcast, counted in matrices).
    static func matmul(_ node: Node, inputShapes: [[Int]]) throws -> KernelBinding {
        let full = inputShapes.map { [1] + $0 }
        let output = try node.outputShape(inputs: full.map { Shape($0) }, params: [:]).dims
        guard full[0].count == full[1].count else {
            throw RuntimeError.unsupported(node: node.name, reason: "matmul of operands of ranks \(full[0].count) and \(full[1].count) would move the batch axis")
        }
        let (m, k, n) = (full[0][full[0].count - 2], full[0][full[0].count - 1], full[1][full[1].count - 1])
        let layout = try batchLayout(node, output: Array(output.dropLast(2)), operands: full.map { Array($0.dropLast(2)) },
                                     constantInputs: [false, false])
        return .kernel(MatmulKernel(m: m, k: k, n: n, layout: layout), outputShape: Array(output.dropFirst()))
    }

    /// `gather`: a constant table indexed along axis 0 by batched indices (embeddings), or a batched
    /// value indexed along another axis by constant indices.
    static func gather(_ node: Node, inputShapes: [[Int]], constantInputs: [Bool]) throws -> KernelBinding {
        let axisAttr = try GatherAttributes(node).axis
        switch (constantInputs[0], constantInputs[1]) {
        case (true, false):
            let data = inputShapes[0]
            let axis = axisAttr < 0 ? axisAttr + data.count : axisAttr
            guard axis == 0 else { throw RuntimeError.unsupported(node: node.name, reason: "gather of a constant along axis \(axisAttr) by batched indices (axis 0 only)") }
            let output = inputShapes[1] + data.dropFirst()
            return .kernel(GatherKernel(node: node.name, outerPerSample: 1, axisLength: data[0], inner: data.dropFirst().reduce(1, *),
                                        indexCount: inputShapes[1].reduce(1, *), dataIsBatched: false), outputShape: output)
        case (false, true):
            let full = [1] + inputShapes[0]
            let axis = axisAttr < 0 ? axisAttr + full.count : axisAttr
            guard axis >= 1, axis < full.count else { throw RuntimeError.unsupported(node: node.name, reason: "gather along the batch axis") }
            let output = try node.outputShape(inputs: [Shape(full), Shape(inputShapes[1])], params: [:]).dims
            return .kernel(GatherKernel(node: node.name, outerPerSample: full[1..<axis].reduce(1, *), axisLength: full[axis],
                                        inner: full[(axis + 1)...].reduce(1, *), indexCount: inputShapes[1].reduce(1, *), dataIsBatched: true),
                           outputShape: Array(output.dropFirst()))
        default:
            throw RuntimeError.unsupported(node: node.name, reason: "gather needs exactly one constant input (a table or the indices)")
        }
    }

    /// `slice`: a strided copy starting at the first selected element (negative steps read backwards).
    static func slice(_ node: Node, shape: [Int]) throws -> KernelBinding {
        let full = [1] + shape
        let ranges = try SliceAttributes(node).resolved(full, node: node)
        let output = ranges.map(\.count)
        guard !output.contains(0) else { throw RuntimeError.shapeMismatch(node: node.name, reason: "slice of per-sample \(shape) is empty") }
        var inStrides = TensorOps.contiguousStrides(full)
        inStrides[0] = Int64(shape.reduce(1, *))
        let offset = ranges.indices.dropFirst().map { ranges[$0].start * Int(inStrides[$0]) }.reduce(0, +)
        var outStrides = TensorOps.contiguousStrides(output)
        outStrides[0] = Int64(output.dropFirst().reduce(1, *))
        return .kernel(StridedCopyKernel(dims: output.map(Int64.init), sourceStrides: ranges.indices.map { inStrides[$0] * Int64(ranges[$0].step) },
                                         destinationStrides: outStrides, sourceOffset: offset),
                       outputShape: Array(output.dropFirst()))
    }

    /// `expand`: a strided copy reading broadcast dims with stride 0.
    static func expand(_ node: Node, shape: [Int]) throws -> KernelBinding {
        let output = try sampleOutputShape(node, shape)
        let layout = try batchLayout(node, output: [1] + output, operands: [[1] + shape], constantInputs: [false])
        var outStrides = TensorOps.contiguousStrides(layout.dims.map { Int($0) })
        outStrides[0] = Int64(output.reduce(1, *))
        return .kernel(StridedCopyKernel(dims: layout.dims, sourceStrides: layout.strides[0], destinationStrides: outStrides),
                       outputShape: output)
    }

    /// `reduce_*`: the reduced axes must be one contiguous run (after resolving negatives).
    static func reduce(_ node: Node, shape: [Int]) throws -> KernelBinding {
        let full = [1] + shape
        let axes = try ReduceAttributes(node).resolvedAxes(rank: full.count, node: node)
        guard let first = axes.first, let last = axes.last, last - first + 1 == axes.count else {
            throw RuntimeError.unsupported(node: node.name, reason: "\(node.op.rawValue) over axes \(axes), which are not adjacent")
        }
        let operation: ReduceOperation = [.reduceMean: .mean, .reduceSum: .sum, .reduceMax: .max, .reduceMin: .min][node.op]!
        let kernel = ReduceKernel(operation, outerPerSample: full[1..<first].reduce(1, *), length: full[first...last].reduce(1, *),
                                  inner: full[(last + 1)...].reduce(1, *))
        return .kernel(kernel, outputShape: try sampleOutputShape(node, shape))
    }

    /// `transpose`: a strided copy reading the input in the output's order (the batch stays first).
    static func transpose(_ node: Node, shape: [Int]) throws -> KernelBinding {
        let full = [1] + shape
        let perm = try TransposeAttributes(node).resolved(rank: full.count, node: node)
        let inStrides = TensorOps.contiguousStrides(full)
        let output = perm.map { full[$0] }
        var strides = perm.map { inStrides[$0] }
        strides[0] = Int64(shape.reduce(1, *))
        var outStrides = TensorOps.contiguousStrides(output)
        outStrides[0] = strides[0]
        return .kernel(StridedCopyKernel(dims: output.map(Int64.init), sourceStrides: strides, destinationStrides: outStrides),
                       outputShape: Array(output.dropFirst()))
    }

    /// `pad` (constant mode): fill the output with the value, then copy the input into its interior.
    static func pad(_ node: Node, shape: [Int]) throws -> KernelBinding {
        let a = try PadAttributes(node)
        let output = try sampleOutputShape(node, shape)
        let rank = shape.count + 1
        let outputCount = output.reduce(1, *)
        var outStrides = TensorOps.contiguousStrides([1] + output)
        outStrides[0] = Int64(outputCount)
        var inStrides = TensorOps.contiguousStrides([1] + shape)
        inStrides[0] = Int64(shape.reduce(1, *))
        let offset = (1..<rank).map { a.pads[$0] * Int(outStrides[$0]) }.reduce(0, +)
        return .kernel(StridedCopyKernel(dims: ([1] + shape).map(Int64.init), sourceStrides: inStrides, destinationStrides: outStrides,
                                         destinationOffset: offset, fill: (Float(a.value), outputCount)),
                       outputShape: output)
    }
}
