import ModelGraph
import TensorCore

/// How a forward pass runs: inference (dropout off, batchnorm on running statistics) or training
/// (dropout masks drawn from `seed`, batchnorm on batch statistics with running-statistics updates).
public enum ForwardMode: Sendable, Equatable {
    case inference
    case training(seed: UInt64)
}

/// What one node's forward pass keeps for its backward pass.
struct SavedForward: Sendable {
    var inputs: [FloatArray]
    var output: FloatArray
    /// Dropout: the per-element scale (0 or 1/(1−p)).
    var scales: [Float] = []
    /// maxpool2d: the flat input index of each output's maximum.
    var argmax: [Int32] = []
    /// conv2d: the column matrices of the forward product, when small enough to keep (see `ConvGeometry.keepsColumns`).
    var columns: [Float]? = nil
    /// batchnorm2d / layernorm: normalised values and statistics.
    var norm: NormMath.Normalized? = nil
    /// New values for buffers (batchnorm running statistics), by param role.
    var bufferUpdates: [String: [Float]] = [:]
}

/// The forward and gradient rule of every op: one `switch` each over `OpKind`, no `default:`
/// (adding an op makes the compiler point here).
enum OpRules {
    // MARK: forward

    static func forward(_ node: Node, index: Int, inputs: [FloatArray], params: [String: FloatArray],
                        mode: ForwardMode) throws -> SavedForward {
        let x = inputs[0]
        func keep(_ y: [Float], _ shape: [Int]) -> SavedForward { SavedForward(inputs: inputs, output: FloatArray(shape: shape, values: y)) }
        switch node.op {
        case .linear:
            let w = try param(node, params, "weight")
            let inFeatures = w.shape[1]
            guard let last = x.shape.last, last == inFeatures, w.shape.count == 2 else {
                throw TrainingError.shapeMismatch(node: node.name, reason: "input \(x.shape) does not end in \(w.shape.last ?? 0) features (weight \(w.shape))")
            }
            let rows = x.count / max(inFeatures, 1)
            let y = DenseMath.forward(x: x.values, rows: rows, inFeatures: inFeatures, w: w.values, out: w.shape[0],
                                      bias: try optionalParam(node, params, "bias", count: w.shape[0])?.values)
            return keep(y, Array(x.shape.dropLast()) + [w.shape[0]])
        case .conv2d:
            let geo = try convGeometry(node, x, try param(node, params, "weight"))
            let bias = try optionalParam(node, params, "bias", count: geo.outChannels)?.values
            let (y, columns) = ConvMath.forward(x: x.values, w: params["weight"]!.values, bias: bias, geometry: geo)
            var saved = keep(y, [geo.batch, geo.outChannels, geo.outH, geo.outW])
            if case .training = mode { saved.columns = columns }
            return saved
        case .batchnorm2d:
            let (batch, channels, plane) = try nchw(node, x)
            let gamma = try param(node, params, "weight", count: channels).values
            let beta = try param(node, params, "bias", count: channels).values
            let runningMean = try param(node, params, "running_mean", count: channels).values
            let runningVar = try param(node, params, "running_var", count: channels).values
            let eps = Float(try BatchNormAttributes(node).eps)
            guard case .training = mode else {
                return keep(NormMath.batchNormEval(x.values, batch: batch, channels: channels, planeSize: plane, gamma: gamma,
                                                   beta: beta, runningMean: runningMean, runningVar: runningVar, eps: eps), x.shape)
            }
            let norm = NormMath.batchNormTrain(x.values, batch: batch, channels: channels, planeSize: plane, gamma: gamma, beta: beta, eps: eps)
            // PyTorch: running ← (1−m)·running + m·batch, with the unbiased variance for running_var.
            let m = try momentum(node)
            let count = Float(batch * plane)
            let unbiased: Float = count > 1 ? count / (count - 1) : 1
            var saved = SavedForward(inputs: inputs, output: FloatArray(shape: x.shape, values: norm.y), norm: norm)
            saved.bufferUpdates["running_mean"] = (0..<channels).map { (1 - m) * runningMean[$0] + m * norm.mean[$0] }
            saved.bufferUpdates["running_var"] = (0..<channels).map { (1 - m) * runningVar[$0] + m * norm.variance[$0] * unbiased }
            return saved
        case .layernorm:
            let size = try layerNormSize(node, x, params)
            let eps = Float(try LayerNormAttributes(node).eps)
            let norm = NormMath.layerNorm(x.values, size: size, gamma: params["weight"]?.values, beta: params["bias"]?.values, eps: eps)
            var saved = keep(norm.y, x.shape)
            saved.norm = norm
            return saved
        case .relu: return keep(ActivationMath.forward(.relu, x.values), x.shape)
        case .gelu:
            let tanhForm = try GeluAttributes(node).approximate == .tanh
            return keep(ActivationMath.forward(tanhForm ? .geluTanh : .gelu, x.values), x.shape)
        case .sigmoid: return keep(ActivationMath.forward(.sigmoid, x.values), x.shape)
        case .tanh: return keep(ActivationMath.forward(.tanh, x.values), x.shape)
        case .silu: return keep(ActivationMath.forward(.silu, x.values), x.shape)
        case .add, .mul:
            let b = inputs[1]
            guard b.shape == x.shape else {
                throw TrainingError.shapeMismatch(node: node.name, reason: "inputs have shapes \(x.shape) and \(b.shape); \(node.op.rawValue) needs equal shapes")
            }
            return keep(node.op == .add ? zip(x.values, b.values).map(+) : zip(x.values, b.values).map(*), x.shape)
        case .softmax, .logSoftmax:
            let axis = try resolveAxis(node, SoftmaxAttributes(node).axis, rank: x.shape.count)
            return keep(SoftmaxMath.forward(x.values, shape: x.shape, axis: axis, log: node.op == .logSoftmax), x.shape)
        case .maxpool2d:
            let geo = try poolGeometry(node, x)
            let (y, argmax) = PoolMath.maxForward(x.values, geo)
            var saved = keep(y, [geo.batch, geo.channels, geo.outH, geo.outW])
            saved.argmax = argmax
            return saved
        case .avgpool2d:
            let geo = try poolGeometry(node, x)
            return keep(PoolMath.avgForward(x.values, geo), [geo.batch, geo.channels, geo.outH, geo.outW])
        case .globalAvgpool:
            let (batch, channels, plane) = try nchw(node, x)
            return keep(PoolMath.globalAvgForward(x.values, planes: batch * channels, planeSize: plane), [batch, channels, 1, 1])
        case .flatten:
            return keep(x.values, try flattenedShape(node, input: x.shape))
        case .reshape:
            return keep(x.values, try reshapeTarget(node, input: x.shape))
        case .concat:
            let axis = try resolveAxis(node, ConcatAttributes(node).axis, rank: x.shape.count)
            return keep(try concatenate(node, inputs, axis: axis), concatShape(inputs, axis: axis))
        case .dropout:
            guard case .training(let seed) = mode else { return keep(x.values, x.shape) }
            let p = try dropoutProbability(node)
            var rng = SeededRNG(seed: seed ^ (UInt64(index + 1) &* 0x9E37_79B9_7F4A_7C15))
            let keepScale = p < 1 ? 1 / (1 - p) : 0
            let scales = x.values.map { _ in rng.nextFloat() < p ? Float(0) : keepScale }
            var saved = keep(zip(x.values, scales).map(*), x.shape)
            saved.scales = scales
            return saved
        case .identity:
            return keep(x.values, x.shape)
        }
    }

    // MARK: backward

    /// Gradients of the node's inputs (nil where the input needs none) and of its trainable params by role.
    /// `needsInputGradients` false: the inputs' gradients may be left out (nil) where that saves work.
    static func backward(_ node: Node, dy: FloatArray, saved: SavedForward, params: [String: FloatArray],
                         needsInputGradients: Bool = true) throws -> (inputs: [[Float]?], params: [String: [Float]]) {
        let x = saved.inputs[0]
        let g = dy.values
        switch node.op {
        case .linear:
            let w = try param(node, params, "weight")
            let inFeatures = w.shape[1]
            let r = DenseMath.backward(dy: g, x: x.values, rows: x.count / max(inFeatures, 1), inFeatures: inFeatures,
                                       w: w.values, out: w.shape[0], needsBias: params["bias"] != nil, needsInput: needsInputGradients)
            return ([r.dx], withBias(["weight": r.dw], r.db))
        case .conv2d:
            let w = try param(node, params, "weight")
            let geo = try convGeometry(node, x, w)
            let r = ConvMath.backward(dy: g, x: x.values, w: w.values, geometry: geo, needsBias: params["bias"] != nil,
                                      needsInput: needsInputGradients, columns: saved.columns)
            return ([r.dx], withBias(["weight": r.dw], r.db))
        case .batchnorm2d:
            let (batch, channels, plane) = try nchw(node, x)
            guard let norm = saved.norm else {
                throw TrainingError.shapeMismatch(node: node.name, reason: "backward needs a training-mode forward pass")
            }
            let r = NormMath.batchNormBackward(dy: g, saved: norm, batch: batch, channels: channels, planeSize: plane,
                                               gamma: try param(node, params, "weight").values)
            return ([r.dx], ["weight": r.dgamma, "bias": r.dbeta])
        case .layernorm:
            let size = try layerNormSize(node, x, params)
            guard let norm = saved.norm else { throw TrainingError.shapeMismatch(node: node.name, reason: "no saved statistics") }
            let r = NormMath.layerNormBackward(dy: g, saved: norm, size: size, gamma: params["weight"]?.values)
            var grads: [String: [Float]] = [:]
            if params["weight"] != nil { grads["weight"] = r.dgamma }
            if params["bias"] != nil { grads["bias"] = r.dbeta }
            return ([r.dx], grads)
        case .relu: return ([ActivationMath.reluBackward(dy: g, y: saved.output.values)], [:])
        case .gelu: return ([ActivationMath.geluBackward(dy: g, x: x.values, tanhApproximation: try GeluAttributes(node).approximate == .tanh)], [:])
        case .sigmoid: return ([ActivationMath.sigmoidBackward(dy: g, y: saved.output.values)], [:])
        case .tanh: return ([ActivationMath.tanhBackward(dy: g, y: saved.output.values)], [:])
        case .silu: return ([ActivationMath.siluBackward(dy: g, x: x.values)], [:])
        case .add: return ([g, g], [:])
        case .mul: return ([zip(g, saved.inputs[1].values).map(*), zip(g, x.values).map(*)], [:])
        case .softmax, .logSoftmax:
            let axis = try resolveAxis(node, SoftmaxAttributes(node).axis, rank: x.shape.count)
            return ([SoftmaxMath.backward(dy: g, y: saved.output.values, shape: x.shape, axis: axis, log: node.op == .logSoftmax)], [:])
        case .maxpool2d: return ([PoolMath.maxBackward(dy: g, argmax: saved.argmax, inputCount: x.count)], [:])
        case .avgpool2d: return ([PoolMath.avgBackward(dy: g, try poolGeometry(node, x))], [:])
        case .globalAvgpool:
            let (_, _, plane) = try nchw(node, x)
            return ([PoolMath.globalAvgBackward(dy: g, planeSize: plane)], [:])
        case .flatten, .reshape, .identity: return ([g], [:])
        case .dropout: return ([saved.scales.isEmpty ? g : zip(g, saved.scales).map(*)], [:])
        case .concat:
            let axis = try resolveAxis(node, ConcatAttributes(node).axis, rank: x.shape.count)
            return (splitConcat(g, shapes: saved.inputs.map(\.shape), axis: axis), [:])
        }
    }

    // MARK: helpers

    private static func withBias(_ grads: [String: [Float]], _ db: [Float]?) -> [String: [Float]] {
        var out = grads
        if let db { out["bias"] = db }
        return out
    }

    static func param(_ node: Node, _ params: [String: FloatArray], _ role: String, count: Int? = nil) throws -> FloatArray {
        guard let p = params[role] else {
            throw TrainingError.missingParameter(node: node.name, role: role, tensor: node.params[role] ?? role)
        }
        if let count, p.count != count {
            throw TrainingError.shapeMismatch(node: node.name, reason: "param '\(role)' has \(p.count) values, expected \(count)")
        }
        return p
    }

    private static func optionalParam(_ node: Node, _ params: [String: FloatArray], _ role: String, count: Int) throws -> FloatArray? {
        guard params[role] != nil else { return nil }
        return try param(node, params, role, count: count)
    }

    static func nchw(_ node: Node, _ x: FloatArray) throws -> (batch: Int, channels: Int, plane: Int) {
        guard x.shape.count == 4 else {
            throw TrainingError.shapeMismatch(node: node.name, reason: "\(node.op.rawValue) needs an [N, C, H, W] input, got \(x.shape)")
        }
        return (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
    }

    static func convGeometry(_ node: Node, _ x: FloatArray, _ w: FloatArray) throws -> ConvGeometry {
        let spec = try ConvSpec(node)
        _ = try nchw(node, x)
        guard w.shape.count == 4, w.shape[0] % spec.groups == 0, w.shape[1] * spec.groups == x.shape[1] else {
            throw TrainingError.shapeMismatch(node: node.name, reason: "input \(x.shape) does not fit weight \(w.shape) with groups \(spec.groups)")
        }
        let geo = ConvGeometry(batch: x.shape[0], inChannels: x.shape[1], height: x.shape[2], width: x.shape[3],
                               outChannels: w.shape[0], kernelH: w.shape[2], kernelW: w.shape[3], spec: spec)
        guard geo.outH > 0, geo.outW > 0 else {
            throw TrainingError.shapeMismatch(node: node.name, reason: "input \(x.shape) is smaller than the kernel \(w.shape[2])x\(w.shape[3])")
        }
        return geo
    }

    static func poolGeometry(_ node: Node, _ x: FloatArray) throws -> PoolGeometry {
        let (batch, channels, _) = try nchw(node, x)
        let geo = PoolGeometry(batch: batch, channels: channels, height: x.shape[2], width: x.shape[3], spec: try PoolSpec(node))
        guard geo.outH > 0, geo.outW > 0 else {
            throw TrainingError.shapeMismatch(node: node.name, reason: "input \(x.shape) is smaller than the pooling window")
        }
        return geo
    }

    static func layerNormSize(_ node: Node, _ x: FloatArray, _ params: [String: FloatArray]) throws -> Int {
        let declared = try LayerNormAttributes(node).normalizedShape?.reduce(1, *)
        let size = params["weight"]?.count ?? declared ?? x.shape.last ?? 1
        var trailing = 1
        for d in x.shape.reversed() where trailing < size { trailing *= d }
        guard size > 0, trailing == size else {
            throw TrainingError.shapeMismatch(node: node.name, reason: "input \(x.shape) does not end in \(size) normalised elements")
        }
        return size
    }

    static func concatShape(_ inputs: [FloatArray], axis: Int) -> [Int] {
        var shape = inputs[0].shape
        shape[axis] = inputs.map { $0.shape[axis] }.reduce(0, +)
        return shape
    }

    static func concatenate(_ node: Node, _ inputs: [FloatArray], axis: Int) throws -> [Float] {
        let first = inputs[0].shape
        for input in inputs.dropFirst() {
            guard input.shape.count == first.count,
                  input.shape.indices.allSatisfy({ $0 == axis || input.shape[$0] == first[$0] }) else {
                throw TrainingError.shapeMismatch(node: node.name, reason: "cannot concatenate \(first) and \(input.shape) along axis \(axis)")
            }
        }
        let outer = first[..<axis].reduce(1, *)
        var y: [Float] = []
        y.reserveCapacity(inputs.map(\.count).reduce(0, +))
        for o in 0..<outer {
            for input in inputs {
                let chunk = input.shape[axis...].reduce(1, *)
                y.append(contentsOf: input.values[(o * chunk)..<((o + 1) * chunk)])
            }
        }
        return y
    }

    static func splitConcat(_ g: [Float], shapes: [[Int]], axis: Int) -> [[Float]?] {
        let outer = shapes[0][..<axis].reduce(1, *)
        var parts = shapes.map { _ in [Float]() }
        var offset = 0
        for _ in 0..<outer {
            for (i, shape) in shapes.enumerated() {
                let chunk = shape[axis...].reduce(1, *)
                parts[i].append(contentsOf: g[offset..<(offset + chunk)])
                offset += chunk
            }
        }
        return parts
    }
}
