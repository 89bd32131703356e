import Foundation
import ModelGraph
import ModelRuntime
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
    /// Which inputs are `constant` values (no batch dimension, never given a gradient).
    var constantInputs: [Bool] = []
    var output: FloatArray
    /// Dropout: the per-element scale (0 or 1/(1−p)).
    var scales: [Float] = []
    /// conv2d: the column matrices of the forward product, when small enough to keep (see `ConvGeometry.keepsColumns`).
    var columns: [Float]? = nil
    /// batchnorm2d / layernorm: normalised values and statistics.
    var norm: NormMath.Normalized? = nil
    /// New values for buffers (batchnorm running statistics), by param role.
    var bufferUpdates: [String: [Float]] = [:]
}

/// The training side of every op (docs/architecture.md, "One op layer"). The forward of an op is
/// the runtime's (`ModelRuntime.NodeForward`, the kernel a `Session` binds), except where training
/// needs something else: ops with learned parameters read the live parameter arrays and keep what
/// their backward reuses (im2col columns, normalisation statistics), batchnorm in training mode
/// uses batch statistics, dropout in training mode draws a mask. The backward is one `switch` over
/// `OpKind`, no `default:` (adding an op makes the compiler point here).
enum OpRules {
    // MARK: forward

    static func forward(_ node: Node, index: Int, inputs: [FloatArray], constantInputs: [Bool] = [],
                        params: [String: FloatArray], mode: ForwardMode) throws -> SavedForward {
        func keep(_ y: [Float], _ shape: [Int]) -> SavedForward { SavedForward(inputs: inputs, output: FloatArray(shape: shape, values: y)) }
        switch node.op {
        case .linear:
            let x = inputs[0]
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
            let x = inputs[0]
            let geo = try convGeometry(node, x, try param(node, params, "weight"))
            let bias = try optionalParam(node, params, "bias", count: geo.outChannels)?.values
            let (y, columns) = ConvMath.forward(x: x.values, w: params["weight"]!.values, bias: bias, geometry: geo)
            var saved = keep(y, [geo.batch, geo.outChannels, geo.outH, geo.outW])
            if case .training = mode { saved.columns = columns }
            return saved
        case .batchnorm2d:
            let x = inputs[0]
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
            let x = inputs[0]
            let size = try layerNormSize(node, x, params)
            let eps = Float(try LayerNormAttributes(node).eps)
            let norm = NormMath.layerNorm(x.values, size: size, gamma: params["weight"]?.values, beta: params["bias"]?.values, eps: eps)
            var saved = keep(norm.y, x.shape)
            saved.norm = norm
            return saved
        case .dropout:
            let x = inputs[0]
            guard case .training(let seed) = mode else { return keep(x.values, x.shape) }
            let p = try dropoutProbability(node)
            var rng = SeededRNG(seed: seed ^ (UInt64(index + 1) &* 0x9E37_79B9_7F4A_7C15))
            let keepScale = p < 1 ? 1 / (1 - p) : 0
            let scales = x.values.map { _ in rng.nextFloat() < p ? Float(0) : keepScale }
            var saved = keep(zip(x.values, scales).map(*), x.shape)
            saved.scales = scales
            return saved
        default:
            return try shared(node, inputs: inputs, constantInputs: constantInputs, params: params)
        }
    }

    /// The runtime's forward of `node` (`NodeForward`), on the training engine's arrays.
    private static func shared(_ node: Node, inputs: [FloatArray], constantInputs: [Bool], params: [String: FloatArray]) throws -> SavedForward {
        var tensors = TensorMap()
        for (role, value) in params { if let name = node.params[role] { tensors[name] = value.tensor } }
        let constant = constantInputs.isEmpty ? inputs.map { _ in false } : constantInputs
        let y = try NodeForward.run(node, inputs: inputs.map(\.tensor), constantInputs: constant, params: tensors)
        return SavedForward(inputs: inputs, constantInputs: constant, output: FloatArray(y))
    }

    // MARK: backward

    /// Gradients of the node's inputs (nil where the input needs none) and of its trainable params by role.
    /// `needsInputGradients` false: the inputs' gradients may be left out (nil) where that saves work.
    static func backward(_ node: Node, dy: FloatArray, saved: SavedForward, params: [String: FloatArray],
                         needsInputGradients: Bool = true) throws -> (inputs: [[Float]?], params: [String: [Float]]) {
        guard let x = saved.inputs.first else { return ([], [:]) }  // a constant
        let g = dy.values
        let y = saved.output.values
        func elementwise(_ rule: (Float, Float, Float) -> Float) -> [[Float]?] {
            [(0..<g.count).map { rule(g[$0], x.values[$0], y[$0]) }]
        }
        switch node.op {
        case .constant: return ([], [:])
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
        case .clip:
            let a = try ClipAttributes(node)
            let (lo, hi) = (Float(a.min), Float(a.max))
            return (elementwise { g, x, _ in x >= lo && x <= hi ? g : 0 }, [:])
        case .leakyRelu:
            let alpha = Float(try LeakyReluAttributes(node).alpha)
            return (elementwise { g, x, _ in x > 0 ? g : alpha * g }, [:])
        case .hardswish: return (elementwise { g, x, _ in x < -3 ? 0 : (x > 3 ? g : g * (2 * x + 3) / 6) }, [:])
        case .hardsigmoid:
            let a = try HardSigmoidAttributes(node)
            let (alpha, beta) = (Float(a.alpha), Float(a.beta))
            return (elementwise { g, x, _ in let v = alpha * x + beta; return v > 0 && v < 1 ? g * alpha : 0 }, [:])
        case .erf: return (elementwise { g, x, _ in g * 1.1283791671 * Foundation.exp(-x * x) }, [:])
        case .sqrt: return (elementwise { g, _, y in g * 0.5 / y }, [:])
        case .reciprocal: return (elementwise { g, _, y in -g * y * y }, [:])
        case .exp: return (elementwise { g, _, y in g * y }, [:])
        case .log: return (elementwise { g, x, _ in g / x }, [:])
        case .neg: return ([g.map { -$0 }], [:])
        case .abs: return (elementwise { g, x, _ in x > 0 ? g : (x < 0 ? -g : 0) }, [:])
        case .add, .sub, .mul:
            // An operand of the output's shape gets its gradient; a broadcast one must be a constant (it gets none).
            var grads: [[Float]?] = []
            for (i, input) in saved.inputs.enumerated() {
                let constant = saved.constantInputs.indices.contains(i) && saved.constantInputs[i]
                guard input.shape == dy.shape else {
                    guard constant else { throw notDifferentiable(node, "with a broadcast input that is not a constant") }
                    grads.append(nil)
                    continue
                }
                switch node.op {
                case .add: grads.append(g)
                case .sub: grads.append(i == 0 ? g : g.map { -$0 })
                default:
                    let other = saved.inputs[1 - i], otherConstant = saved.constantInputs.indices.contains(1 - i) && saved.constantInputs[1 - i]
                    let product = Node(name: node.name, op: .mul, inputs: ["dy", "other"], output: node.output)
                    grads.append(try NodeForward.run(product, inputs: [dy.tensor, other.tensor], constantInputs: [false, otherConstant],
                                                     params: TensorMap()).floats)
                }
            }
            return (grads, [:])
        case .div, .globalMaxpool, .reduceMean, .reduceSum, .reduceMax, .reduceMin, .pad, .softplus, .mish, .not, .cast,
             .pow, .min, .max, .equal, .less, .greater, .where, .matmul, .gather, .slice, .expand:
            throw notDifferentiable(node, "")
        case .squeeze, .unsqueeze: return ([g], [:])
        case .transpose:
            let perm = try TransposeAttributes(node).resolved(rank: x.shape.count, node: node)
            var inverse = perm
            for (i, p) in perm.enumerated() { inverse[p] = i }
            let back = Node(name: node.name, op: .transpose, inputs: node.inputs, output: node.output, attrs: ["perm": .array(inverse.map { .number(Double($0)) })])
            return ([try NodeForward.run(back, inputs: [dy.tensor], constantInputs: [false], params: TensorMap()).floats], [:])
        case .softmax, .logSoftmax:
            let axis = try resolveAxis(node, SoftmaxAttributes(node).axis, rank: x.shape.count)
            return ([SoftmaxMath.backward(dy: g, y: saved.output.values, shape: x.shape, axis: axis, log: node.op == .logSoftmax)], [:])
        case .maxpool2d:
            // The forward is the runtime's; the argmax comes from the training kernel on the saved input.
            let argmax = PoolMath.maxForward(x.values, try poolGeometry(node, x)).argmax
            return ([PoolMath.maxBackward(dy: g, argmax: argmax, inputCount: x.count)], [:])
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

    /// Whether an op has a gradient rule (`backward` refuses the others, naming the node).
    static func isDifferentiable(_ op: OpKind) -> Bool {
        switch op {
        case .constant, .linear, .conv2d, .batchnorm2d, .layernorm, .relu, .gelu, .sigmoid, .tanh, .silu, .clip, .hardsigmoid,
             .hardswish, .erf, .sqrt, .reciprocal, .exp, .log, .neg, .abs, .leakyRelu, .add, .sub, .mul, .softmax, .logSoftmax,
             .maxpool2d, .avgpool2d, .globalAvgpool, .flatten, .reshape, .squeeze, .unsqueeze, .transpose, .concat, .dropout, .identity:
            return true
        case .div, .globalMaxpool, .reduceMean, .reduceSum, .reduceMax, .reduceMin, .pad, .softplus, .mish, .not, .cast,
             .pow, .min, .max, .equal, .less, .greater, .where, .matmul, .gather, .slice, .expand:
            return false
        }
    }

    private static func notDifferentiable(_ node: Node, _ detail: String) -> TrainingError {
        .notDifferentiable(node: node.name, op: node.op.rawValue + (detail.isEmpty ? "" : " \(detail)"))
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
