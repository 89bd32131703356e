import CDNNL

/// The integer core of an INT8 convolution on oneDNN's int8 convolution (every group count,
/// depthwise included; docs/runtime.md "CPU dispatch"): u8 NCHW codes in, reordered to NHWC, u8 ×
/// s8 with the input's zero point as oneDNN's source zero point (padding reads real 0), and s32
/// NHWC accumulators `Σ (q − z)·w` out. The caller's epilogue (`Int8Linear`, centred offsets)
/// turns them into f32 or u8 exactly as for the im2col product, so both paths give the same bytes.
///
/// Exact only where oneDNN multiplies with VNNI: below it, its int8 convolutions halve the weights
/// to dodge `vpmaddubsw` saturation, so `init` refuses such CPUs (`isExact`).
public final class Int8Conv2d: @unchecked Sendable {
    public let geometry: Conv2dGeometry
    public let zeroPoint: Int32
    private let reorderID = KernelID.make(), convID = KernelID.make()
    private let weights: [Int8]
    private let packed: PackedWeights
    private let weightDims: [Int]
    private let zeroPointMemory: DNNLMemory
    private let zeroPointValue: UnsafeMutablePointer<Int32>
    private let lock = NSLockLike()
    private var plans: [Int: Plan] = [:]
    private let outputReorderID = KernelID.make()
    private var outputReorders: [Int: (DNNLPrimitive, dnnl_memory_desc_t, dnnl_memory_desc_t)] = [:]

    private struct Plan {
        let reorder: DNNLPrimitive
        let conv: ForwardPlan
        let plainSource, nhwcSource: dnnl_memory_desc_t
    }

    /// Whether oneDNN's int8 convolution gives exact integers on this CPU (VNNI).
    public static var isExact: Bool { DNNL.u8s8ExactForAnyWeights }

    /// `weights`: s8 `[O, I/groups, kh, kw]` row-major; `zeroPoint`: the u8 input's zero point.
    public init(geometry g: Conv2dGeometry, weights: [Int8], zeroPoint: Int32) throws {
        try g.validate()
        guard Self.isExact else {
            throw Int8KernelError.productUnavailable("oneDNN's int8 convolution is exact only with VNNI (\(DNNL.effectiveISA) here)")
        }
        let perGroup = [g.outChannels / g.groups, g.inChannels / g.groups, g.kernel.h, g.kernel.w]
        guard weights.count == perGroup.reduce(g.groups, *) else {
            throw Int8KernelError.badWeight("conv2d weight has \(weights.count) values, expected \(perGroup.reduce(g.groups, *))")
        }
        geometry = g
        self.zeroPoint = zeroPoint
        self.weights = weights
        weightDims = g.groups == 1 ? perGroup : [g.groups] + perGroup
        packed = PackedWeights(plain: try DNNL.descriptor(weightDims, dnnl_s8, g.groups == 1 ? dnnl_oihw : dnnl_goihw))
        zeroPointValue = .allocate(capacity: 1)
        zeroPointValue.initialize(to: zeroPoint)
        zeroPointMemory = try DNNLMemory(try DNNL.descriptor([1], dnnl_s32, dnnl_a), data: zeroPointValue)
    }

    deinit { zeroPointValue.deallocate() }

    public func prepare(batch: Int) throws { _ = try plan(batch: batch) }

    /// oneDNN's implementation name (e.g. "brg_conv_fwd:avx512_core_vnni").
    public func implementation(batch: Int) throws -> String { try plan(batch: batch).conv.primitive.implementation }

    /// Bytes of the NHWC copy of the input a run of `batch` samples needs (`run`'s `staging`).
    public func stagingBytes(batch: Int) -> Int { batch * geometry.inChannels * geometry.inHeight * geometry.inWidth }

    private func plan(batch: Int) throws -> Plan {
        try lock.withLock {
            if let plan = plans[batch] { return plan }
            let g = geometry
            let inDims = [batch, g.inChannels, g.inHeight, g.inWidth]
            let plainSource = try DNNL.descriptor(inDims, dnnl_u8, dnnl_nchw)
            var source = try DNNL.descriptor(inDims, dnnl_u8, dnnl_nhwc)
            var weightsDescriptor = try DNNL.descriptor(weightDims, dnnl_s8, dnnl_format_tag_any)
            var destination = try DNNL.descriptor([batch, g.outChannels, g.outHeight, g.outWidth], dnnl_s32, dnnl_nhwc)
            var desc = dnnl_convolution_desc_t()
            try DNNL.check(dnnl_dilated_convolution_forward_desc_init(
                &desc, dnnl_forward_inference, dnnl_convolution_direct, &source, &weightsDescriptor, nil, &destination,
                [Int64(g.stride.h), Int64(g.stride.w)], [Int64(g.dilation.h - 1), Int64(g.dilation.w - 1)],
                [Int64(g.padding.h), Int64(g.padding.w)], [Int64(g.paddingEnd.h), Int64(g.paddingEnd.w)]),
                "convolution_forward_desc_init (int8)")
            let attributes = try PrimitiveAttributes(.none)
            var runtimeZeroPoint = Int32.min  // DNNL_RUNTIME_S32_VAL: the value comes with each run
            try DNNL.check(dnnl_primitive_attr_set_zero_points(attributes.handle, DNNL_ARG_SRC, 1, 0, &runtimeZeroPoint),
                           "primitive_attr_set_zero_points")
            let primitive = try withUnsafePointer(to: &desc) {
                try DNNLPrimitive(opDescriptor: UnsafeRawPointer($0), attributes: attributes.handle, what: "int8 conv2d \(g)")
            }
            let conv = try weights.withUnsafeBytes {
                try ForwardPlan(primitive: primitive, source: source, destination: destination, weights: packed, weightData: $0.baseAddress!)
            }
            let plan = Plan(reorder: try DNNLPrimitive(reorderFrom: plainSource, to: source), conv: conv,
                            plainSource: plainSource, nhwcSource: source)
            plans[batch] = plan
            return plan
        }
    }

    /// `input`: u8 `[batch, C, H, W]`; `staging`: `stagingBytes(batch:)` bytes; `accumulators`:
    /// s32 `[batch, OH, OW, O]` (row = output position, column = channel).
    public func run(batch: Int, input: UnsafePointer<UInt8>, staging: UnsafeMutableRawPointer,
                    accumulators: UnsafeMutablePointer<Int32>, context: ExecutionContext) throws {
        guard batch > 0 else { return }
        let plan = try plan(batch: batch)
        let from = try context.memory(kernel: reorderID, batch: batch, slot: DNNL_ARG_FROM, descriptor: plan.plainSource, data: input)
        let to = try context.memory(kernel: reorderID, batch: batch, slot: DNNL_ARG_TO, descriptor: plan.nhwcSource, data: staging)
        try plan.reorder.execute(context.stream, [(DNNL_ARG_FROM, from), (DNNL_ARG_TO, to)])
        let src = try context.memory(kernel: convID, batch: batch, slot: DNNL_ARG_SRC, descriptor: plan.conv.source, data: staging)
        let dst = try context.memory(kernel: convID, batch: batch, slot: DNNL_ARG_DST, descriptor: plan.conv.destination, data: accumulators)
        var args: [(Int32, DNNLMemory)] = [(DNNL_ARG_SRC, src), (DNNL_ARG_WEIGHTS, plan.conv.weights), (DNNL_ARG_DST, dst),
                                           (DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC, zeroPointMemory)]
        if let scratch = try context.scratchpad(kernel: convID, batch: batch, descriptor: plan.conv.scratchpad) {
            args.append((DNNL_ARG_SCRATCHPAD, scratch))
        }
        try plan.conv.primitive.execute(context.stream, args)
        try context.wait()
    }

    /// Moves the epilogue's `[batch, OH, OW, O]` rows (u8 or f32) to NCHW `output` (oneDNN reorder).
    public func rowsToNCHW(batch: Int, u8: Bool, rows: UnsafeRawPointer, output: UnsafeMutableRawPointer,
                           context: ExecutionContext) throws {
        guard batch > 0 else { return }
        let key = batch * 2 + (u8 ? 1 : 0)
        let (reorder, source, destination) = try lock.withLock {
            if let plan = outputReorders[key] { return plan }
            let g = geometry, type = u8 ? dnnl_u8 : dnnl_f32
            let dims = [batch, g.outChannels, g.outHeight, g.outWidth]
            let source = try DNNL.descriptor(dims, type, dnnl_nhwc), destination = try DNNL.descriptor(dims, type, dnnl_nchw)
            let plan = (try DNNLPrimitive(reorderFrom: source, to: destination), source, destination)
            outputReorders[key] = plan
            return plan
        }
        let from = try context.memory(kernel: outputReorderID, batch: key, slot: DNNL_ARG_FROM, descriptor: source, data: rows)
        let to = try context.memory(kernel: outputReorderID, batch: key, slot: DNNL_ARG_TO, descriptor: destination, data: output)
        try reorder.execute(context.stream, [(DNNL_ARG_FROM, from), (DNNL_ARG_TO, to)])
        try context.wait()
    }
}
