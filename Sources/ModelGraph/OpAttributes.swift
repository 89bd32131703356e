import TensorCore

// Typed attributes of each op (DESIGN §3), parsed once from `Node.attrs` so kernels, shape
// rules and gradients never read raw JSON. Defaults follow PyTorch. Attributes an op does not
// know are ignored (other steps annotate nodes, e.g. `input_quant`).

/// `conv2d`: `stride` (1), `padding` (0), `dilation` (1), `groups` (1), as `torch.nn.Conv2d`.
public struct Conv2dAttributes: Hashable, Sendable {
    public var stride: Spatial2D
    public var padding: Spatial2D
    public var dilation: Spatial2D
    public var groups: Int

    public init(stride: Spatial2D = .init(both: 1), padding: Spatial2D = .init(both: 0),
                dilation: Spatial2D = .init(both: 1), groups: Int = 1) {
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
    }

    public init(_ node: Node) throws {
        let reader = AttributeReader(node)
        if let padding = node.attrs["padding"], padding.stringValue != nil {
            throw reader.bad("padding", "must be an integer ≥ 0 or a list of 2 such integers ('same'/'valid' are not supported), got \(padding.compactJSON)")
        }
        stride = try reader.spatial("stride", default: Spatial2D(both: 1), minimum: 1)
        padding = try reader.spatial("padding", default: Spatial2D(both: 0), minimum: 0)
        dilation = try reader.spatial("dilation", default: Spatial2D(both: 1), minimum: 1)
        groups = try reader.int("groups", default: 1, minimum: 1)
    }
}

/// `maxpool2d` / `avgpool2d`: `kernel` (required), `stride` (defaults to the kernel, as in
/// PyTorch), `padding` (0, at most half the kernel). Output sizes round down (`ceil_mode` false);
/// `count_include_pad` (avgpool, true as in PyTorch) says whether padding counts in the mean.
public struct Pool2dAttributes: Hashable, Sendable {
    public var kernel: Spatial2D
    public var stride: Spatial2D
    public var padding: Spatial2D
    public var countIncludePad: Bool

    public init(kernel: Spatial2D, stride: Spatial2D? = nil, padding: Spatial2D = .init(both: 0), countIncludePad: Bool = true) {
        self.kernel = kernel
        self.stride = stride ?? kernel
        self.padding = padding
        self.countIncludePad = countIncludePad
    }

    public init(_ node: Node) throws {
        let reader = AttributeReader(node)
        kernel = try reader.spatial("kernel", default: nil, minimum: 1)
        stride = try reader.spatial("stride", default: kernel, minimum: 1)
        padding = try reader.spatial("padding", default: Spatial2D(both: 0), minimum: 0)
        guard padding.h <= kernel.h / 2, padding.w <= kernel.w / 2 else {
            throw reader.bad("padding", "must be at most half the kernel \(kernel), got \(padding)")
        }
        if try reader.bool("ceil_mode", default: false) {
            throw reader.bad("ceil_mode", "true is not supported (output sizes round down)")
        }
        countIncludePad = try reader.bool("count_include_pad", default: true)
    }
}

/// `softmax` / `log_softmax`: `axis` (-1, the last dimension; negative counts from the end).
public struct SoftmaxAttributes: Hashable, Sendable {
    public var axis: Int

    public init(axis: Int = -1) { self.axis = axis }

    public init(_ node: Node) throws {
        axis = try AttributeReader(node).int("axis", default: -1)
    }
}

/// `flatten`: merges dimensions `start_dim` (1) through `end_dim` (-1), as `torch.nn.Flatten`.
/// The batch dimension cannot be merged (it stays dynamic), so `start_dim` must not be 0.
public struct FlattenAttributes: Hashable, Sendable {
    public var startDim: Int
    public var endDim: Int

    public init(startDim: Int = 1, endDim: Int = -1) {
        self.startDim = startDim
        self.endDim = endDim
    }

    public init(_ node: Node) throws {
        let reader = AttributeReader(node)
        startDim = try reader.int("start_dim", default: 1)
        endDim = try reader.int("end_dim", default: -1)
        guard startDim != 0 else { throw reader.bad("start_dim", "must not be 0: the batch dimension cannot be merged") }
    }
}

/// `reshape`: `shape` (required), the full output shape. Its first entry is the batch dimension
/// and must be -1 or 0 (the batch size, unchanged: it stays dynamic). In the other entries one
/// -1 is inferred from the element count as in `torch.reshape`, and 0 copies the input's size at
/// the same position (as ONNX `Reshape`; a literal empty dimension is never meant in a model).
public struct ReshapeAttributes: Hashable, Sendable {
    public var shape: [Int]

    public init(shape: [Int]) { self.shape = shape }

    public init(_ node: Node) throws {
        let reader = AttributeReader(node)
        guard let shape = try reader.intList("shape", required: true), !shape.isEmpty else {
            throw reader.bad("shape", "must list at least the batch dimension")
        }
        guard shape[0] == -1 || shape[0] == 0 else {
            throw reader.bad("shape", "must start with -1 or 0 (the batch dimension stays dynamic), got \(shape)")
        }
        let rest = shape.dropFirst()
        guard rest.allSatisfy({ $0 >= -1 }) else { throw reader.bad("shape", "has a dimension below -1: \(shape)") }
        guard rest.filter({ $0 == -1 }).count <= 1 else { throw reader.bad("shape", "has more than one -1 after the batch dimension: \(shape)") }
        self.shape = shape
    }
}

/// `concat`: `axis` (required; negative counts from the end; never the batch dimension).
public struct ConcatAttributes: Hashable, Sendable {
    public var axis: Int

    public init(axis: Int) { self.axis = axis }

    public init(_ node: Node) throws {
        axis = try AttributeReader(node).int("axis", default: nil)
    }
}

/// `batchnorm2d`: `eps` (1e-5). Inference uses the running statistics.
public struct BatchNormAttributes: Hashable, Sendable {
    public var eps: Double

    public init(eps: Double = 1e-5) { self.eps = eps }

    public init(_ node: Node) throws {
        let reader = AttributeReader(node)
        eps = try reader.double("eps", default: 1e-5)
        guard eps > 0 else { throw reader.bad("eps", "must be positive, got \(eps)") }
    }
}

/// `layernorm`: `eps` (1e-5) and `normalized_shape` (the trailing dimensions normalized over;
/// when absent, the shape of the `weight` param, which is then required).
public struct LayerNormAttributes: Hashable, Sendable {
    public var eps: Double
    public var normalizedShape: [Int]?

    public init(eps: Double = 1e-5, normalizedShape: [Int]? = nil) {
        self.eps = eps
        self.normalizedShape = normalizedShape
    }

    public init(_ node: Node) throws {
        let reader = AttributeReader(node)
        eps = try reader.double("eps", default: 1e-5)
        guard eps > 0 else { throw reader.bad("eps", "must be positive, got \(eps)") }
        normalizedShape = try reader.intList("normalized_shape", required: false)
        if let shape = normalizedShape, shape.isEmpty || shape.contains(where: { $0 < 1 }) {
            throw reader.bad("normalized_shape", "must be a non-empty list of positive sizes, got \(shape)")
        }
        if normalizedShape == nil && node.params["weight"] == nil {
            throw reader.bad("normalized_shape", "is required when the node has no weight")
        }
    }
}

/// `gelu`: `approximate` — `none` (exact, erf) or `tanh`, as `torch.nn.GELU`.
public struct GeluAttributes: Hashable, Sendable {
    public enum Approximation: String, Sendable, CaseIterable { case none, tanh }
    public var approximate: Approximation

    public init(approximate: Approximation = .none) { self.approximate = approximate }

    public init(_ node: Node) throws {
        let raw = try AttributeReader(node).choice("approximate", default: "none",
                                                    allowed: Approximation.allCases.map(\.rawValue))
        approximate = Approximation(rawValue: raw) ?? .none
    }
}

/// The typed attributes of any node: one case per attribute family.
public enum OpAttributes: Hashable, Sendable {
    case conv2d(Conv2dAttributes)
    case pool2d(Pool2dAttributes)
    case softmax(SoftmaxAttributes)
    case flatten(FlattenAttributes)
    case reshape(ReshapeAttributes)
    case concat(ConcatAttributes)
    case batchnorm(BatchNormAttributes)
    case layernorm(LayerNormAttributes)
    case gelu(GeluAttributes)
    /// The op takes no attributes.
    case none

    /// Parses and checks the attributes `node.op` takes.
    public init(_ node: Node) throws {
        switch node.op {
        case .conv2d: self = .conv2d(try Conv2dAttributes(node))
        case .maxpool2d, .avgpool2d: self = .pool2d(try Pool2dAttributes(node))
        case .softmax, .logSoftmax: self = .softmax(try SoftmaxAttributes(node))
        case .flatten: self = .flatten(try FlattenAttributes(node))
        case .reshape: self = .reshape(try ReshapeAttributes(node))
        case .concat: self = .concat(try ConcatAttributes(node))
        case .batchnorm2d: self = .batchnorm(try BatchNormAttributes(node))
        case .layernorm: self = .layernorm(try LayerNormAttributes(node))
        case .gelu: self = .gelu(try GeluAttributes(node))
        case .linear, .relu, .sigmoid, .tanh, .silu, .add, .mul, .globalAvgpool, .dropout, .identity:
            self = .none
        }
    }
}
