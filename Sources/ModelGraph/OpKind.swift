/// The one op vocabulary (DESIGN §3). Raw values are the `op` strings of model.json.
///
/// Adding an op: one case here, then the compiler lists every table that needs a row
/// (shape rule, kernel binding, gradient rule) because each is a `switch` with no `default:`.
public enum OpKind: String, Codable, CaseIterable, Sendable {
    // ** layers with parameters **
    case linear, conv2d, batchnorm2d, layernorm
    // ** element-wise, one input **
    case relu, gelu, sigmoid, tanh, silu
    // ** element-wise, two inputs (same shape) **
    case add, mul
    // ** normalisation over an axis **
    case softmax
    case logSoftmax = "log_softmax"
    // ** spatial pooling **
    case maxpool2d, avgpool2d
    case globalAvgpool = "global_avgpool"
    // ** shape and plumbing **
    case flatten, reshape, concat, dropout, identity

    /// The named parameters the op takes: required ones first, then optional.
    public var parameterNames: (required: [String], optional: [String]) {
        switch self {
        case .linear, .conv2d: return (["weight"], ["bias"])
        case .batchnorm2d: return (["weight", "bias", "running_mean", "running_var"], [])
        case .layernorm: return ([], ["weight", "bias"])
        case .relu, .gelu, .sigmoid, .tanh, .silu, .add, .mul, .softmax, .logSoftmax,
             .maxpool2d, .avgpool2d, .globalAvgpool, .flatten, .reshape, .concat, .dropout, .identity:
            return ([], [])
        }
    }

    /// How many inputs the op takes (`nil`: one or more).
    public var inputArity: Int? {
        switch self {
        case .add, .mul: return 2
        case .concat: return nil
        case .linear, .conv2d, .batchnorm2d, .layernorm, .relu, .gelu, .sigmoid, .tanh, .silu,
             .softmax, .logSoftmax, .maxpool2d, .avgpool2d, .globalAvgpool, .flatten, .reshape, .dropout, .identity:
            return 1
        }
    }

    /// Ops whose output is a function of each input element alone.
    public var isElementwiseUnary: Bool {
        switch self {
        case .relu, .gelu, .sigmoid, .tanh, .silu, .dropout, .identity: return true
        case .linear, .conv2d, .batchnorm2d, .layernorm, .add, .mul, .softmax, .logSoftmax,
             .maxpool2d, .avgpool2d, .globalAvgpool, .flatten, .reshape, .concat:
            return false
        }
    }

    /// Ops whose weights quantization and pruning act on (a matrix product).
    public var hasWeightMatrix: Bool { self == .linear || self == .conv2d }
}
