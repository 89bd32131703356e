import CDNNL
import TensorCore

/// The sizes of one 2-D convolution (NCHW, PyTorch semantics), per sample.
public struct Conv2dGeometry: Sendable, Equatable {
    public var inChannels, inHeight, inWidth: Int
    public var outChannels: Int
    public var kernel: (h: Int, w: Int)
    public var stride: (h: Int, w: Int)
    /// Padding before the input (top, left) and after it (bottom, right; ONNX `pads` may differ).
    public var padding: (h: Int, w: Int)
    public var paddingEnd: (h: Int, w: Int)
    public var dilation: (h: Int, w: Int)
    public var groups: Int

    public init(inChannels: Int, inHeight: Int, inWidth: Int, outChannels: Int, kernel: (Int, Int),
                stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0), paddingEnd: (Int, Int)? = nil,
                dilation: (Int, Int) = (1, 1), groups: Int = 1) {
        self.inChannels = inChannels
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.outChannels = outChannels
        self.kernel = (kernel.0, kernel.1)
        self.stride = (stride.0, stride.1)
        self.padding = (padding.0, padding.1)
        let end = paddingEnd ?? padding
        self.paddingEnd = (end.0, end.1)
        self.dilation = (dilation.0, dilation.1)
        self.groups = groups
    }

    public var outHeight: Int { slidingWindowCount(size: inHeight, padding: (padding.h, paddingEnd.h), span: dilation.h * (kernel.h - 1) + 1, stride: stride.h) }
    public var outWidth: Int { slidingWindowCount(size: inWidth, padding: (padding.w, paddingEnd.w), span: dilation.w * (kernel.w - 1) + 1, stride: stride.w) }

    /// Throws unless every size is positive, groups divide both channel counts and the output is non-empty.
    public func validate() throws {
        let positive = [inChannels, inHeight, inWidth, outChannels, kernel.h, kernel.w, stride.h, stride.w,
                        dilation.h, dilation.w, groups].allSatisfy { $0 > 0 } && [padding.h, padding.w, paddingEnd.h, paddingEnd.w].allSatisfy { $0 >= 0 }
        guard positive else { throw KernelError.badShape("conv2d sizes must be positive: \(self)") }
        guard inChannels % groups == 0, outChannels % groups == 0 else {
            throw KernelError.badShape("conv2d groups \(groups) must divide in channels \(inChannels) and out channels \(outChannels)")
        }
        guard inHeight + padding.h + paddingEnd.h >= dilation.h * (kernel.h - 1) + 1,
              inWidth + padding.w + paddingEnd.w >= dilation.w * (kernel.w - 1) + 1, outHeight > 0, outWidth > 0 else {
            throw KernelError.badShape("conv2d output would be empty for input \(inHeight)x\(inWidth)")
        }
    }

    public static func == (a: Conv2dGeometry, b: Conv2dGeometry) -> Bool {
        a.inChannels == b.inChannels && a.inHeight == b.inHeight && a.inWidth == b.inWidth && a.outChannels == b.outChannels
            && a.kernel == b.kernel && a.stride == b.stride && a.padding == b.padding && a.paddingEnd == b.paddingEnd && a.dilation == b.dilation && a.groups == b.groups
    }
}

/// 2-D convolution (PyTorch `conv2d`, weight `[O, I/groups, kh, kw]`) on oneDNN, NCHW in and out.
///
/// Weight reordered once per layout, primitives cached per batch size, bias and the post-op fused;
/// input and output NCHW or channel-blocked (`useLayouts`, docs/runtime.md "Layouts").
public final class Conv2d: @unchecked Sendable {
    public let geometry: Conv2dGeometry
    public let postOp: PostOp
    private let id = KernelID.make()
    private let weight: Tensor
    private let packed: PackedWeights
    private let weightDims: [Int]
    private let bias: DNNLMemory?
    private let biasData: Tensor?
    private let lock = NSLockLike()
    private var plans: [Int: ForwardPlan] = [:]
    /// The layouts of the input and output (plain NCHW unless the plan keeps activations blocked).
    public private(set) var sourceLayout = ActivationLayout.plain, destinationLayout = ActivationLayout.plain

    public init(geometry g: Conv2dGeometry, weight: Tensor, bias: Tensor?, postOp: PostOp = .none) throws {
        try g.validate()
        let expected = [g.outChannels, g.inChannels / g.groups, g.kernel.h, g.kernel.w]
        guard weight.dtype == .f32, weight.shape.dims == expected else {
            throw KernelError.badShape("conv2d weight must be f32 \(expected), got \(weight.dtype.rawValue) \(weight.shape)")
        }
        if let bias, bias.dtype != .f32 || bias.elementCount != g.outChannels {
            throw KernelError.badShape("conv2d bias must be f32 [\(g.outChannels)], got \(bias.dtype.rawValue) \(bias.shape)")
        }
        geometry = g
        self.postOp = postOp
        self.weight = weight
        if g.groups == 1 {
            weightDims = expected
            packed = PackedWeights(plain: try DNNL.descriptor(weightDims, dnnl_f32, dnnl_oihw))
        } else {
            weightDims = [g.groups, g.outChannels / g.groups, g.inChannels / g.groups, g.kernel.h, g.kernel.w]
            packed = PackedWeights(plain: try DNNL.descriptor(weightDims, dnnl_f32, dnnl_goihw))
        }
        biasData = bias
        self.bias = try bias.map {
            try DNNLMemory(try DNNL.descriptor([g.outChannels], dnnl_f32, dnnl_a), data: UnsafeMutableRawPointer(mutating: $0.storage.pointer))
        }
    }

    /// Sets the input and output layouts, only before the first primitive exists (planning). Keeps
    /// NCHW and returns false when oneDNN has only its reference loop for these layouts.
    public func useLayouts(source: ActivationLayout, destination: ActivationLayout) throws -> Bool {
        lock.withLock {
            precondition(plans.isEmpty, "conv2d layouts are fixed once a primitive exists")
            (sourceLayout, destinationLayout) = (source, destination)
        }
        if try implementation(batch: 1).hasPrefix("ref") {
            lock.withLock { plans = [:]; (sourceLayout, destinationLayout) = (.plain, .plain) }
            return false
        }
        return true
    }

    public func prepare(batch: Int) throws { _ = try plan(batch: batch) }

    public func implementation(batch: Int) throws -> String { try plan(batch: batch).primitive.implementation }

    private func plan(batch: Int) throws -> ForwardPlan {
        try lock.withLock {
            if let plan = plans[batch] { return plan }
            let g = geometry
            var source = try DNNL.descriptor([batch, g.inChannels, g.inHeight, g.inWidth], dnnl_f32, sourceLayout.tag)
            var weights = try DNNL.descriptor(weightDims, dnnl_f32, dnnl_format_tag_any)
            var destination = try DNNL.descriptor([batch, g.outChannels, g.outHeight, g.outWidth], dnnl_f32, destinationLayout.tag)
            var biasDescriptor = bias?.descriptor ?? dnnl_memory_desc_t()
            let strides = [Int64(g.stride.h), Int64(g.stride.w)]
            let dilates = [Int64(g.dilation.h - 1), Int64(g.dilation.w - 1)]  // oneDNN counts extra gaps
            let padding = [Int64(g.padding.h), Int64(g.padding.w)]
            let paddingEnd = [Int64(g.paddingEnd.h), Int64(g.paddingEnd.w)]
            var desc = dnnl_convolution_desc_t()
            try withUnsafePointer(to: &biasDescriptor) { biasPointer in
                try DNNL.check(dnnl_dilated_convolution_forward_desc_init(
                    &desc, dnnl_forward_inference, dnnl_convolution_direct, &source, &weights,
                    bias == nil ? nil : biasPointer, &destination, strides, dilates, padding, paddingEnd),
                    "convolution_forward_desc_init")
            }
            let attributes = try PrimitiveAttributes(postOp)
            let primitive = try withUnsafePointer(to: &desc) {
                try DNNLPrimitive(opDescriptor: UnsafeRawPointer($0), attributes: attributes.handle, what: "f32 conv2d \(g)")
            }
            let plan = try ForwardPlan(primitive: primitive, source: source, destination: destination,
                                       weights: packed, weightData: weight.storage.pointer)
            plans[batch] = plan
            return plan
        }
    }

    /// `input` is `[batch, C, H, W]`, `output` is `[batch, O, OH, OW]`.
    public func run(batch: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                    context: ExecutionContext) throws {
        guard batch > 0 else { return }
        try plan(batch: batch).run(kernel: id, batch: batch, input: input, output: output, bias: bias, context: context)
    }

    /// The direct 7-loop convolution (double accumulation) that `run` is tested against.
    public static func reference(batch: Int, geometry g: Conv2dGeometry, input: UnsafePointer<Float>, weight: Tensor,
                                 bias: Tensor?, postOp: PostOp, output: UnsafeMutablePointer<Float>) {
        let w = weight.floats, b = bias?.floats
        let icPerGroup = g.inChannels / g.groups, ocPerGroup = g.outChannels / g.groups
        let oh = g.outHeight, ow = g.outWidth
        for n in 0..<batch {
            for oc in 0..<g.outChannels {
                let group = oc / ocPerGroup
                for y in 0..<oh {
                    for x in 0..<ow {
                        var sum = Double(b?[oc] ?? 0)
                        for icg in 0..<icPerGroup {
                            let ic = group * icPerGroup + icg
                            for ky in 0..<g.kernel.h {
                                let iy = y * g.stride.h - g.padding.h + ky * g.dilation.h
                                guard iy >= 0, iy < g.inHeight else { continue }
                                for kx in 0..<g.kernel.w {
                                    let ix = x * g.stride.w - g.padding.w + kx * g.dilation.w
                                    guard ix >= 0, ix < g.inWidth else { continue }
                                    let iv = input[((n * g.inChannels + ic) * g.inHeight + iy) * g.inWidth + ix]
                                    let wv = w[((oc * icPerGroup + icg) * g.kernel.h + ky) * g.kernel.w + kx]
                                    sum += Double(iv) * Double(wv)
                                }
                            }
                        }
                        let value = Float(sum)
                        output[((n * g.outChannels + oc) * oh + y) * ow + x] = postOp.apply(value)
                    }
                }
            }
        }
    }
}
