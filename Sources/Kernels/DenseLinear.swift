import CDNNL
import TensorCore

/// What runs on a kernel's output before it is stored (fused into the library primitive).
public enum PostOp: Sendable, Equatable {
    case none, relu
    /// `min(max(x, min), max)` (ONNX `Clip`, ReLU6); fused into f32 dense kernels only.
    case clip(min: Float, max: Float)
    /// `x·min(max(x + 3, 0), 6)/6` (ONNX `HardSwish`); fused into f32 dense kernels only.
    case hardSwish

    /// The post-op on one value, for the references (NaN passes, as in oneDNN).
    @inline(__always) public func apply(_ value: Float) -> Float {
        switch self {
        case .none: return value
        case .relu: return value < 0 ? 0 : value
        case .clip(let lo, let hi): return value < lo ? lo : (value > hi ? hi : value)
        case .hardSwish:
            let gate = value / 6 + 0.5
            return value * (gate < 0 ? 0 : (gate > 1 ? 1 : gate))
        }
    }

    /// Whether the sparse kernels implement it.
    public var isSparseSupported: Bool { self == .none || self == .relu }
}

/// `y = x · Wᵀ + b` (PyTorch `linear`, weight `[out, in]`) on oneDNN's f32 matmul.
///
/// The weight is reordered once into the layout oneDNN prefers; primitives are created per batch
/// size on first use and cached; bias and ReLU are fused. Safe to run from several threads at
/// once, each with its own `ExecutionContext`.
public final class DenseLinear: @unchecked Sendable {
    public let inFeatures: Int
    public let outFeatures: Int
    public let postOp: PostOp
    private let id = KernelID.make()
    private let weight: Tensor
    private let packed: PackedWeights
    private let bias: DNNLMemory?
    private let biasData: Tensor?
    private let lock = NSLockLike()
    private var plans: [Int: ForwardPlan] = [:]

    /// - Parameters:
    ///   - weight: f32 `[out, in]`.
    ///   - bias: f32 `[out]`, or nil.
    public init(weight: Tensor, bias: Tensor?, postOp: PostOp = .none) throws {
        guard weight.dtype == .f32, weight.shape.rank == 2 else {
            throw KernelError.badShape("linear weight must be f32 [out, in], got \(weight.dtype.rawValue) \(weight.shape)")
        }
        outFeatures = weight.shape[0]
        inFeatures = weight.shape[1]
        if let bias, bias.dtype != .f32 || bias.elementCount != outFeatures {
            throw KernelError.badShape("linear bias must be f32 [\(outFeatures)], got \(bias.dtype.rawValue) \(bias.shape)")
        }
        self.postOp = postOp
        self.weight = weight
        packed = PackedWeights(plain: try DNNL.descriptor([inFeatures, outFeatures], dnnl_f32, dnnl_ba))
        if let bias {
            biasData = bias
            self.bias = try DNNLMemory(try DNNL.descriptor([1, outFeatures], dnnl_f32, dnnl_ab),
                                       data: UnsafeMutableRawPointer(mutating: bias.storage.pointer))
        } else {
            biasData = nil
            self.bias = nil
        }
    }

    /// Creates (and caches) the primitive for `batch` rows; the run path calls it implicitly.
    public func prepare(batch: Int) throws { _ = try plan(batch: batch) }

    /// The oneDNN implementation chosen for `batch` rows (e.g. "brg:avx512_core").
    public func implementation(batch: Int) throws -> String { try plan(batch: batch).primitive.implementation }

    private func plan(batch: Int) throws -> ForwardPlan {
        try lock.withLock {
            if let plan = plans[batch] { return plan }
            var source = try DNNL.descriptor([batch, inFeatures], dnnl_f32, dnnl_ab)
            var weights = try DNNL.descriptor([inFeatures, outFeatures], dnnl_f32, dnnl_format_tag_any)
            var destination = try DNNL.descriptor([batch, outFeatures], dnnl_f32, dnnl_ab)
            var biasDescriptor = bias?.descriptor ?? dnnl_memory_desc_t()
            var desc = dnnl_matmul_desc_t()
            try withUnsafePointer(to: &biasDescriptor) { biasPointer in
                try DNNL.check(dnnl_matmul_desc_init(&desc, &source, &weights, bias == nil ? nil : biasPointer, &destination),
                               "matmul_desc_init")
            }
            let attributes = try PrimitiveAttributes(postOp)
            let primitive = try withUnsafePointer(to: &desc) {
                try DNNLPrimitive(opDescriptor: UnsafeRawPointer($0), attributes: attributes.handle,
                                  what: "f32 matmul \(batch)x\(inFeatures)x\(outFeatures)")
            }
            let plan = try ForwardPlan(primitive: primitive, source: source, destination: destination,
                                       weights: packed, weightData: weight.storage.pointer)
            plans[batch] = plan
            return plan
        }
    }

    /// Runs on `batch` rows: `input` is `[batch, in]`, `output` is `[batch, out]`, both row-major.
    public func run(batch: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                    context: ExecutionContext) throws {
        guard batch > 0 else { return }
        try plan(batch: batch).run(kernel: id, batch: batch, input: input, output: output, bias: bias, context: context)
    }

    /// The plain loop (double accumulation) that `run` is tested against.
    public static func reference(batch: Int, input: UnsafePointer<Float>, weight: Tensor, bias: Tensor?,
                                 postOp: PostOp, output: UnsafeMutablePointer<Float>) {
        let out = weight.shape[0], inner = weight.shape[1]
        let w = weight.floats, b = bias?.floats
        for i in 0..<batch {
            for j in 0..<out {
                var sum = Double(b?[j] ?? 0)
                for p in 0..<inner { sum += Double(input[i * inner + p]) * Double(w[j * inner + p]) }
                let value = Float(sum)
                output[i * out + j] = postOp.apply(value)
            }
        }
    }
}

/// Primitive attributes: a fused post-op, and a scratchpad the caller provides (oneDNN's own
/// scratchpad is shared between primitives, which is unsafe for concurrent runs).
final class PrimitiveAttributes {
    let handle: OpaquePointer

    init(_ postOp: PostOp) throws {
        var attr: OpaquePointer?
        try DNNL.check(dnnl_primitive_attr_create(&attr), "primitive_attr_create")
        handle = attr!
        try DNNL.check(dnnl_primitive_attr_set_scratchpad_mode(handle, dnnl_scratchpad_mode_user), "primitive_attr_set_scratchpad_mode")
        var ops: OpaquePointer?
        try DNNL.check(dnnl_post_ops_create(&ops), "post_ops_create")
        defer { dnnl_post_ops_destroy(ops) }
        switch postOp {
        case .none: return
        case .relu: try DNNL.check(dnnl_post_ops_append_eltwise(ops, 1, dnnl_eltwise_relu, 0, 0), "post_ops_append_eltwise")
        case .clip(let lo, let hi):
            try DNNL.check(dnnl_post_ops_append_eltwise(ops, 1, dnnl_eltwise_clip_v2, lo, hi), "post_ops_append_eltwise")
        case .hardSwish:
            try DNNL.check(dnnl_post_ops_append_eltwise(ops, 1, dnnl_eltwise_hardswish, 0, 0), "post_ops_append_eltwise")
        }
        try DNNL.check(dnnl_primitive_attr_set_post_ops(handle, ops), "primitive_attr_set_post_ops")
    }

    deinit { dnnl_primitive_attr_destroy(handle) }
}
