import TensorCore

// Typed attributes of each op (DESIGN §3), parsed once from `Node.attrs` so kernels, shape
// rules and gradients never read raw JSON. Defaults follow PyTorch. Attributes an op does not
// know are ignored (other steps annotate nodes, e.g. `input_quant`).

/// `conv2d`: `stride` (1), `padding` (0) or ONNX `pads` ([top, left, bottom, right]), `dilation`
/// (1), `groups` (1), as `torch.nn.Conv2d` / ONNX `Conv`.
public struct Conv2dAttributes: Hashable, Sendable {
    public var stride: Spatial2D
    /// Padding before the input (top, left).
    public var padding: Spatial2D
    /// Padding after the input (bottom, right); equals `padding` unless `pads` says otherwise.
    public var paddingEnd: Spatial2D
    public var dilation: Spatial2D
    public var groups: Int

    public init(stride: Spatial2D = .init(both: 1), padding: Spatial2D = .init(both: 0), paddingEnd: Spatial2D? = nil,
                dilation: Spatial2D = .init(both: 1), groups: Int = 1) {
        self.stride = stride
        self.padding = padding
        self.paddingEnd = paddingEnd ?? padding
        self.dilation = dilation
        self.groups = groups
    }

    /// Padding is the same on both sides of each axis.
    public var isSymmetric: Bool { padding == paddingEnd }

    public init(_ node: Node) throws {
        let reader = AttributeReader(node)
        if let padding = node.attrs["padding"], padding.stringValue != nil {
            throw reader.bad("padding", "must be an integer ≥ 0 or a list of 2 such integers ('same'/'valid' are not supported), got \(padding.compactJSON)")
        }
        stride = try reader.spatial("stride", default: Spatial2D(both: 1), minimum: 1)
        (padding, paddingEnd) = try reader.pads()
        dilation = try reader.spatial("dilation", default: Spatial2D(both: 1), minimum: 1)
        groups = try reader.int("groups", default: 1, minimum: 1)
    }
}

/// `maxpool2d` / `avgpool2d`: `kernel` (required), `stride` (defaults to the kernel, as in
/// PyTorch), `padding` (0, at most half the kernel) or ONNX `pads` ([top, left, bottom, right],
/// each below the kernel). `ceil_mode` (false) rounds output sizes up, dropping a last window that
/// would start in the end padding (PyTorch's and ONNX's rule); `count_include_pad` (avgpool, true
/// as in PyTorch) says whether padding counts in the mean.
public struct Pool2dAttributes: Hashable, Sendable {
    public var kernel: Spatial2D
    public var stride: Spatial2D
    public var padding: Spatial2D
    public var paddingEnd: Spatial2D
    public var ceilMode: Bool
    public var countIncludePad: Bool

    public init(kernel: Spatial2D, stride: Spatial2D? = nil, padding: Spatial2D = .init(both: 0), paddingEnd: Spatial2D? = nil,
                ceilMode: Bool = false, countIncludePad: Bool = true) {
        self.kernel = kernel
        self.stride = stride ?? kernel
        self.padding = padding
        self.paddingEnd = paddingEnd ?? padding
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
    }

    /// Padding is the same on both sides and sizes round down: the form training supports.
    public var isPlain: Bool { padding == paddingEnd && !ceilMode }

    public init(_ node: Node) throws {
        let reader = AttributeReader(node)
        kernel = try reader.spatial("kernel", default: nil, minimum: 1)
        stride = try reader.spatial("stride", default: kernel, minimum: 1)
        let (padding, paddingEnd) = try reader.pads()
        (self.padding, self.paddingEnd) = (padding, paddingEnd)
        let kernel = kernel
        if node.attrs["pads"] == nil {
            guard padding.h <= kernel.h / 2, padding.w <= kernel.w / 2 else {
                throw reader.bad("padding", "must be at most half the kernel \(kernel), got \(padding)")
            }
        } else {
            guard [padding.h, paddingEnd.h].allSatisfy({ $0 < kernel.h }), [padding.w, paddingEnd.w].allSatisfy({ $0 < kernel.w }) else {
                throw reader.bad("pads", "must each be smaller than the kernel \(kernel)")
            }
        }
        ceilMode = try reader.bool("ceil_mode", default: false)
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

/// `reshape`: `shape` (required), the full output shape. When its first entry is -1 or 0 it is the
/// batch dimension, unchanged (it stays dynamic); in the other entries one -1 is inferred from the
/// per-sample element count as in `torch.reshape`, and 0 copies the input's size at the same
/// position (as ONNX `Reshape` with `allowzero=0`). A positive first entry is ONNX's plain reshape
/// of the whole tensor (0 copies, one -1 inferred from the total): it can move elements across the
/// batch, so the runtime plans such graphs per concrete batch size (docs/runtime.md).
public struct ReshapeAttributes: Hashable, Sendable {
    public var shape: [Int]

    public init(shape: [Int]) { self.shape = shape }

    /// The batch stays the first dimension.
    public var keepsBatch: Bool { shape[0] <= 0 }

    public init(_ node: Node) throws {
        let reader = AttributeReader(node)
        guard let shape = try reader.intList("shape", required: true), !shape.isEmpty else {
            throw reader.bad("shape", "must list at least the batch dimension")
        }
        guard shape.allSatisfy({ $0 >= -1 }) else { throw reader.bad("shape", "has a dimension below -1: \(shape)") }
        let inferred = (shape[0] > 0 ? shape[...] : shape.dropFirst()).filter { $0 == -1 }.count
        guard inferred <= 1 else {
            throw reader.bad("shape", shape[0] > 0 ? "has more than one -1: \(shape)" : "has more than one -1 after the batch dimension: \(shape)")
        }
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
    case clip(ClipAttributes)
    case hardsigmoid(HardSigmoidAttributes)
    case leakyRelu(LeakyReluAttributes)
    case reduce(ReduceAttributes)
    case axes(AxesAttributes)
    case transpose(TransposeAttributes)
    case pad(PadAttributes)
    case cast(CastAttributes)
    case gather(GatherAttributes)
    case slice(SliceAttributes)
    case expand(ExpandAttributes)
    /// The op takes no attributes.
    case none

    /// Parses and checks the attributes `node.op` takes (its row in `OpKind.spec`).
    public init(_ node: Node) throws {
        self = try node.op.spec.parseAttributes(node)
    }
}

/// `clip`: `min` (−∞) and `max` (+∞), as ONNX `Clip` (ReLU6 is `min` 0, `max` 6).
public struct ClipAttributes: Hashable, Sendable {
    public var min: Double
    public var max: Double

    public init(min: Double = -.infinity, max: Double = .infinity) {
        self.min = min
        self.max = max
    }

    public init(_ node: Node) throws {
        let reader = AttributeReader(node)
        min = try reader.double("min", default: -.infinity)
        max = try reader.double("max", default: .infinity)
        guard min <= max else { throw reader.bad("max", "(\(max)) is below min (\(min))") }
    }
}

/// `hardsigmoid`: `max(0, min(1, alpha·x + beta))`, `alpha` (0.2) and `beta` (0.5) as ONNX.
public struct HardSigmoidAttributes: Hashable, Sendable {
    public var alpha: Double
    public var beta: Double

    public init(alpha: Double = 0.2, beta: Double = 0.5) {
        self.alpha = alpha
        self.beta = beta
    }

    public init(_ node: Node) throws {
        let reader = AttributeReader(node)
        alpha = try reader.double("alpha", default: 0.2)
        beta = try reader.double("beta", default: 0.5)
    }
}

/// `leaky_relu`: slope `alpha` (0.01) below zero, as ONNX `LeakyRelu`.
public struct LeakyReluAttributes: Hashable, Sendable {
    public var alpha: Double

    public init(alpha: Double = 0.01) { self.alpha = alpha }

    public init(_ node: Node) throws {
        alpha = try AttributeReader(node).double("alpha", default: 0.01)
    }
}

/// `reduce_mean|sum|max|min`: `axes` (default: every axis but the batch) and `keepdims` (true),
/// as ONNX `Reduce*`. The batch axis cannot be reduced.
public struct ReduceAttributes: Hashable, Sendable {
    public var axes: [Int]?
    public var keepDims: Bool

    public init(axes: [Int]? = nil, keepDims: Bool = true) {
        self.axes = axes
        self.keepDims = keepDims
    }

    public init(_ node: Node) throws {
        let reader = AttributeReader(node)
        axes = try reader.intList("axes", required: false)
        keepDims = try reader.flag("keepdims", default: true)
        if let axes, axes.isEmpty { throw reader.bad("axes", "must not be empty (omit it to reduce every axis but the batch)") }
    }

    /// The reduced axes of a rank-`rank` input, sorted, never the batch.
    public func resolvedAxes(rank: Int, node: Node) throws -> [Int] {
        guard let axes else { return Array(1..<rank) }
        return try AttributeReader(node).resolveAxes(axes, rank: rank, attr: "axes")
    }
}

/// `squeeze` / `unsqueeze`: `axes` (squeeze: default every size-1 axis but the batch; unsqueeze:
/// required, positions in the output), as ONNX. The batch axis stays first.
public struct AxesAttributes: Hashable, Sendable {
    public var axes: [Int]?

    public init(axes: [Int]?) { self.axes = axes }

    public init(_ node: Node, required: Bool) throws {
        axes = try AttributeReader(node).intList("axes", required: required)
    }
}

/// `transpose`: `perm` (default: the axes reversed). A `perm[0]` other than 0 moves the batch, so the
/// runtime plans such graphs per concrete batch size (docs/runtime.md).
public struct TransposeAttributes: Hashable, Sendable {
    public var perm: [Int]?

    public init(perm: [Int]?) { self.perm = perm }

    public init(_ node: Node) throws {
        let reader = AttributeReader(node)
        perm = try reader.intList("perm", required: false)
        if let perm {
            guard Set(perm) == Set(0..<perm.count) else { throw reader.bad("perm", "must be a permutation of 0..<\(perm.count), got \(perm)") }
        }
    }

    /// The permutation for a rank-`rank` input.
    public func resolved(rank: Int, node: Node) throws -> [Int] {
        let p = perm ?? Array((0..<rank).reversed())
        guard p.count == rank else {
            throw GraphError.badAttribute(node: node.name, attr: "perm", reason: "has \(p.count) entries for an input of rank \(rank)")
        }
        return p
    }
}

/// `pad`: `pads` (2·rank sizes ≥ 0, ONNX order: every axis's begin, then every axis's end; the batch
/// axis's must be 0), `mode` ("constant" only) and `value` (0).
public struct PadAttributes: Hashable, Sendable {
    public var pads: [Int]
    public var value: Double

    public init(pads: [Int], value: Double = 0) {
        self.pads = pads
        self.value = value
    }

    public init(_ node: Node) throws {
        let reader = AttributeReader(node)
        _ = try reader.choice("mode", default: "constant", allowed: ["constant"])
        guard let pads = try reader.intList("pads", required: true), !pads.isEmpty, pads.count % 2 == 0 else {
            throw reader.bad("pads", "must list a begin and an end size per axis")
        }
        guard pads.allSatisfy({ $0 >= 0 }) else { throw reader.bad("pads", "must not be negative, got \(pads)") }
        guard pads[0] == 0, pads[pads.count / 2] == 0 else { throw reader.bad("pads", "must not pad the batch axis, got \(pads)") }
        self.pads = pads
        value = try reader.double("value", default: 0)
    }
}

/// `cast`: `to`, the target dtype by its model.json name (`f32`, `f16`, `bf16`, `i64`, `i32`, `i8`,
/// `u8`, `bool`). Values are held as f32 (docs/ops.md, "Values"): float targets keep the value,
/// integer targets truncate toward zero, `bool` gives 1 for any non-zero value.
public struct CastAttributes: Hashable, Sendable {
    public var to: DType

    public init(to: DType) { self.to = to }

    public init(_ node: Node) throws {
        let raw = try AttributeReader(node).choice("to", default: "f32", allowed: DType.allCases.map(\.rawValue))
        to = DType(rawValue: raw) ?? .f32
    }
}

/// `gather`: `axis` (0), as ONNX `Gather`: `data.shape[..<axis] + indices.shape + data.shape[(axis+1)...]`.
/// Indices are integers held as f32; negative ones count from the end.
public struct GatherAttributes: Hashable, Sendable {
    public var axis: Int

    public init(axis: Int = 0) { self.axis = axis }

    public init(_ node: Node) throws {
        axis = try AttributeReader(node).int("axis", default: 0)
    }
}

/// `slice`: `starts`, `ends` (required), `axes` (default 0, 1, …), `steps` (default 1; non-zero), as
/// ONNX `Slice` with constant inputs folded into attributes (out-of-range bounds clamp). The batch
/// axis cannot be sliced.
public struct SliceAttributes: Hashable, Sendable {
    public var starts: [Int]
    public var ends: [Int]
    public var axes: [Int]?
    public var steps: [Int]?

    public init(starts: [Int], ends: [Int], axes: [Int]? = nil, steps: [Int]? = nil) {
        (self.starts, self.ends, self.axes, self.steps) = (starts, ends, axes, steps)
    }

    public init(_ node: Node) throws {
        let reader = AttributeReader(node)
        starts = try reader.intList("starts", required: true) ?? []
        ends = try reader.intList("ends", required: true) ?? []
        axes = try reader.intList("axes", required: false)
        steps = try reader.intList("steps", required: false)
        guard !starts.isEmpty, ends.count == starts.count, axes.map({ $0.count == starts.count }) ?? true,
              steps.map({ $0.count == starts.count }) ?? true else {
            throw reader.bad("starts", "ends, axes and steps must have one entry per sliced axis")
        }
        if let steps, steps.contains(0) { throw reader.bad("steps", "must not be 0") }
    }

    /// Per input axis of a rank-`rank` input: (first index, step, count) — ONNX's clamping rules.
    public func resolved(_ shape: [Int], node: Node) throws -> [(start: Int, step: Int, count: Int)] {
        let reader = AttributeReader(node)
        var result = shape.map { (start: 0, step: 1, count: $0) }
        let axisList = axes ?? Array(0..<starts.count)
        var seen = Set<Int>()
        for (i, rawAxis) in axisList.enumerated() {
            let axis = rawAxis < 0 ? rawAxis + shape.count : rawAxis
            guard axis >= 0, axis < shape.count else { throw reader.bad("axes", "has \(rawAxis), out of range for an input of rank \(shape.count)") }
            guard axis != 0 else { throw reader.bad("axes", "names the batch axis, which cannot be sliced") }
            guard seen.insert(axis).inserted else { throw reader.bad("axes", "names axis \(axis) twice") }
            let size = shape[axis], step = steps?[i] ?? 1
            func clamp(_ v: Int, _ lo: Int, _ hi: Int) -> Int { Swift.min(Swift.max(v, lo), hi) }
            var start = starts[i] < 0 ? starts[i] + size : starts[i]
            var end = ends[i] < 0 ? ends[i] + size : ends[i]
            if step > 0 {
                start = clamp(start, 0, size)
                end = clamp(end, 0, size)
                result[axis] = (start, step, end > start ? (end - start + step - 1) / step : 0)
            } else {
                start = clamp(start, 0, size - 1)
                end = clamp(end, -1, size - 1)
                result[axis] = (start, step, start > end ? (start - end - step - 1) / -step : 0)
            }
        }
        return result
    }
}

/// `expand`: `shape` (ints), broadcast with the input by NumPy rules as ONNX `Expand`; its first
/// entry (the batch) must be 1.
public struct ExpandAttributes: Hashable, Sendable {
    public var shape: [Int]

    public init(shape: [Int]) { self.shape = shape }

    public init(_ node: Node) throws {
        let reader = AttributeReader(node)
        guard let shape = try reader.intList("shape", required: true), !shape.isEmpty, shape.allSatisfy({ $0 >= 1 }) else {
            throw reader.bad("shape", "must be a non-empty list of sizes ≥ 1")
        }
        self.shape = shape
    }
}
