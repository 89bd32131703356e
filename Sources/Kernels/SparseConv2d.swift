import CKernels
import TensorCore

/// A conv2d (groups 1) whose weight runs as a sparse matrix through the conv's matrix form: per
/// sample, im2col of the input into columns [C·kh·kw, OH·OW] (skipped for a 1×1, stride-1,
/// unpadded conv, whose input already is that matrix), then sparse weight [O, C·kh·kw] × columns
/// (`ck_spmm_f32_columns_variant`) written straight into the sample's NCHW output, bias and ReLU fused.
/// Agrees with the dense conv within `SparseLinear.tolerance` of Σ|w·x| per output.
public final class SparseConv2d: @unchecked Sendable {
    public let geometry: Conv2dGeometry
    public let matrix: SparseMatrix
    public let postOp: PostOp
    private let bias: [Float]?
    private var im2col: ck_im2col_geometry

    public init(geometry g: Conv2dGeometry, weight: Tensor, bias: Tensor?, postOp: PostOp = .none) throws {
        try g.validate()
        let expected = [g.outChannels, g.inChannels, g.kernel.h, g.kernel.w]
        guard g.groups == 1, weight.dtype == .f32, weight.quant == nil, weight.shape.dims == expected else {
            throw KernelError.badShape("sparse conv2d needs groups 1 and an f32 weight \(expected), got groups \(g.groups) and \(weight.dtype.rawValue) \(weight.shape)")
        }
        if let bias, bias.dtype != .f32 || bias.elementCount != g.outChannels {
            throw KernelError.badShape("conv2d bias must be f32 [\(g.outChannels)], got \(bias.dtype.rawValue) \(bias.shape)")
        }
        geometry = g
        matrix = SparseMatrix(weight: weight)
        self.bias = bias?.floats
        self.postOp = postOp
        im2col = ck_im2col_geometry(channels: Int64(g.inChannels), height: Int64(g.inHeight), width: Int64(g.inWidth),
                                    kernel_h: Int64(g.kernel.h), kernel_w: Int64(g.kernel.w), stride_h: Int64(g.stride.h),
                                    stride_w: Int64(g.stride.w), pad_h: Int64(g.padding.h), pad_w: Int64(g.padding.w),
                                    dilation_h: Int64(g.dilation.h), dilation_w: Int64(g.dilation.w),
                                    out_h: Int64(g.outHeight), out_w: Int64(g.outWidth))
    }

    /// Whether the input is its own column matrix (no im2col needed).
    public var isPointwise: Bool {
        let g = geometry
        return g.kernel == (1, 1) && g.stride == (1, 1) && g.padding == (0, 0) && g.paddingEnd == (0, 0)
    }

    /// Floats of scratch `run` needs (the columns of one sample).
    public var scratchCount: Int { isPointwise ? 0 : matrix.cols * geometry.outHeight * geometry.outWidth }

    /// `input` [batch, C, H, W] → `output` [batch, O, OH, OW]; `scratch` holds `scratchCount` floats.
    public func run(batch: Int, input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>,
                    scratch: UnsafeMutablePointer<Float>, isa: SparseISA = .best) {
        let g = geometry
        let positions = g.outHeight * g.outWidth
        let inCount = g.inChannels * g.inHeight * g.inWidth
        let relu: Int32 = postOp == .relu ? 1 : 0
        matrix.withCSR { csr in
            withUnsafePointer(to: &im2col) { geometry in
                bias.withOptionalPointer { b in
                    for s in 0..<batch {
                        let x = input + s * inCount
                        let columns: UnsafePointer<Float>
                        if isPointwise {
                            columns = x
                        } else {
                            ck_im2col_f32(x, scratch, positions, geometry)
                            columns = UnsafePointer(scratch)
                        }
                        ck_spmm_f32_columns_variant(isa.cISA, csr, columns, Int64(positions), Int64(positions), b, relu,
                                                    output + s * g.outChannels * positions)
                    }
                }
            }
        }
    }

    /// Convenience for tests: allocates the output and the scratch.
    public func run(input: Tensor, isa: SparseISA = .best) -> Tensor {
        let g = geometry
        precondition(input.dtype == .f32 && input.shape.dims.dropFirst() == [g.inChannels, g.inHeight, g.inWidth], "input must be [N, \(g.inChannels), \(g.inHeight), \(g.inWidth)] f32")
        let batch = input.shape[0]
        var y = Tensor(zeros: .f32, [batch, g.outChannels, g.outHeight, g.outWidth])
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(scratchCount, 1))
        defer { scratch.deallocate() }
        input.withUnsafeBufferPointer(of: Float.self) { x in
            y.withUnsafeMutableBufferPointer(of: Float.self) { out in
                run(batch: batch, input: x.baseAddress!, output: out.baseAddress!, scratch: scratch, isa: isa)
            }
        }
        return y
    }
}

extension Optional where Wrapped == [Float] {
    /// `body` with the array's base address, or nil.
    func withOptionalPointer<R>(_ body: (UnsafePointer<Float>?) throws -> R) rethrows -> R {
        switch self {
        case .some(let array): return try array.withUnsafeBufferPointer { try body($0.baseAddress) }
        case .none: return try body(nil)
        }
    }
}
