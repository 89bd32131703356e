/// The one op vocabulary (docs/ops.md). Raw values are the `op` strings of model.json.
///
/// Adding an op (docs/architecture.md, "Adding an op"): one case here with its row in `spec`, its
/// shape rule (`ShapeRules`), its forward (`ModelRuntime.KernelRegistry`) and, when trainable, its
/// gradient (`Training.OpRules.backward`); each is a `switch` with no `default:`.
public enum OpKind: String, Codable, CaseIterable, Sendable {
    // ** values **
    case constant
    // ** layers with parameters **
    case linear, conv2d, batchnorm2d, layernorm
    // ** element-wise, one input **
    case relu, gelu, sigmoid, tanh, silu, clip, hardsigmoid, hardswish, erf, sqrt, reciprocal, exp, log, neg, abs
    case softplus, mish, not, cast
    case leakyRelu = "leaky_relu"
    // ** element-wise, two or three inputs (broadcasting) **
    case add, sub, mul, div, pow, min, max, equal, less, greater, `where`
    // ** products **
    case matmul
    // ** normalisation over an axis **
    case softmax
    case logSoftmax = "log_softmax"
    // ** spatial pooling and reductions **
    case maxpool2d, avgpool2d
    case globalAvgpool = "global_avgpool"
    case globalMaxpool = "global_maxpool"
    case reduceMean = "reduce_mean"
    case reduceSum = "reduce_sum"
    case reduceMax = "reduce_max"
    case reduceMin = "reduce_min"
    // ** shape and plumbing **
    case flatten, reshape, squeeze, unsqueeze, transpose, pad, concat, dropout, identity, gather, slice, expand

    /// The op's row: arity, parameter roles, attribute parser and what the algorithms may do with it.
    public var spec: OpSpec {
        switch self {
        case .constant: return OpSpec(inputs: 0...0, params: ["value": .constant])
        case .linear: return OpSpec(params: ["weight": .weightMatrix, "bias": .optionalLearned])
        case .conv2d: return OpSpec(params: ["weight": .weightMatrix, "bias": .optionalLearned]) { .conv2d(try Conv2dAttributes($0)) }
        case .batchnorm2d:
            return OpSpec(params: ["weight": .learned, "bias": .learned, "running_mean": .buffer, "running_var": .buffer],
                          mixesSamplesInTraining: true) { .batchnorm(try BatchNormAttributes($0)) }
        case .layernorm: return OpSpec(params: ["weight": .optionalLearned, "bias": .optionalLearned]) { .layernorm(try LayerNormAttributes($0)) }
        case .relu, .sigmoid, .tanh, .silu, .hardswish, .erf, .sqrt, .reciprocal, .exp, .log, .neg, .abs, .identity,
             .softplus, .mish, .not:
            return OpSpec(elementwiseUnary: true)
        case .cast: return OpSpec(elementwiseUnary: true) { .cast(try CastAttributes($0)) }
        case .dropout: return OpSpec(elementwiseUnary: true)
        case .gelu: return OpSpec(elementwiseUnary: true) { .gelu(try GeluAttributes($0)) }
        case .clip: return OpSpec(elementwiseUnary: true) { .clip(try ClipAttributes($0)) }
        case .hardsigmoid: return OpSpec(elementwiseUnary: true) { .hardsigmoid(try HardSigmoidAttributes($0)) }
        case .leakyRelu: return OpSpec(elementwiseUnary: true) { .leakyRelu(try LeakyReluAttributes($0)) }
        case .add, .sub, .mul, .div, .pow, .min, .max, .equal, .less, .greater, .matmul: return OpSpec(inputs: 2...2)
        case .where: return OpSpec(inputs: 3...3)
        case .gather: return OpSpec(inputs: 2...2) { .gather(try GatherAttributes($0)) }
        case .slice: return OpSpec { .slice(try SliceAttributes($0)) }
        case .expand: return OpSpec { .expand(try ExpandAttributes($0)) }
        case .softmax, .logSoftmax: return OpSpec { .softmax(try SoftmaxAttributes($0)) }
        case .maxpool2d, .avgpool2d: return OpSpec { .pool2d(try Pool2dAttributes($0)) }
        case .globalAvgpool, .globalMaxpool: return OpSpec()
        case .reduceMean, .reduceSum, .reduceMax, .reduceMin: return OpSpec { .reduce(try ReduceAttributes($0)) }
        case .flatten: return OpSpec { .flatten(try FlattenAttributes($0)) }
        case .reshape: return OpSpec { .reshape(try ReshapeAttributes($0)) }
        case .squeeze, .unsqueeze: return OpSpec { .axes(try AxesAttributes($0, required: $0.op == .unsqueeze)) }
        case .transpose: return OpSpec { .transpose(try TransposeAttributes($0)) }
        case .pad: return OpSpec { .pad(try PadAttributes($0)) }
        case .concat: return OpSpec(inputs: 1...Int.max) { .concat(try ConcatAttributes($0)) }
        }
    }

    /// The named parameters the op takes: required ones first, then optional.
    public var parameterNames: (required: [String], optional: [String]) {
        let roles = spec.params.sorted { $0.key < $1.key }
        return (roles.filter { !$0.value.isOptional }.map(\.key), roles.filter { $0.value.isOptional }.map(\.key))
    }

    /// How many inputs the op takes (`nil`: one or more).
    public var inputArity: Int? { spec.inputs.lowerBound == spec.inputs.upperBound ? spec.inputs.lowerBound : nil }

    /// Ops whose output is a function of each input element alone.
    public var isElementwiseUnary: Bool { spec.elementwiseUnary }

    /// Ops whose weights quantization and pruning act on (a matrix product).
    public var hasWeightMatrix: Bool { spec.params.values.contains(.weightMatrix) }
}

/// What a parameter role holds, which decides what training, quantization and pruning do with it.
public enum ParamRole: Hashable, Sendable {
    /// The matrix of a product: learned, quantizable (INT8), prunable. Required.
    case weightMatrix
    /// Learned (trained, never quantized or pruned).
    case learned
    case optionalLearned
    /// State the op reads but training does not learn (batchnorm running statistics).
    case buffer
    /// A fixed tensor (`constant`): never learned, quantized or pruned.
    case constant

    public var isOptional: Bool { self == .optionalLearned }
    public var isLearned: Bool { self == .weightMatrix || self == .learned || self == .optionalLearned }
}

/// One op's row in the vocabulary (`OpKind.spec`): everything about it that is not arithmetic.
public struct OpSpec: Sendable {
    /// How many inputs (node-produced values) it takes.
    public let inputs: ClosedRange<Int>
    /// Parameter role → what it holds.
    public let params: [String: ParamRole]
    /// The output is a function of each input element alone, same shape.
    public let elementwiseUnary: Bool
    /// In training mode one sample's result depends on the others (batch statistics).
    public let mixesSamplesInTraining: Bool
    /// Parses and checks the node's attributes (once; kernels and rules read the typed value).
    let parseAttributes: @Sendable (Node) throws -> OpAttributes

    init(inputs: ClosedRange<Int> = 1...1, params: [String: ParamRole] = [:], elementwiseUnary: Bool = false,
         mixesSamplesInTraining: Bool = false, attributes: @escaping @Sendable (Node) throws -> OpAttributes = { _ in .none }) {
        self.inputs = inputs
        self.params = params
        self.elementwiseUnary = elementwiseUnary
        self.mixesSamplesInTraining = mixesSamplesInTraining
        self.parseAttributes = attributes
    }
}
