import CKernels
import TensorCore

/// Element-wise activation functions, PyTorch semantics.
public enum Activation: String, Sendable, CaseIterable {
    case relu, sigmoid, tanh, silu
    /// GELU with the exact erf form (`approximate="none"`).
    case gelu
    /// GELU with the tanh approximation (`approximate="tanh"`).
    case geluTanh = "gelu_tanh"
}

/// Element-wise kernels on f32 buffers (C, dispatched on CPU features once at load time).
/// `output` may be the same buffer as an input.
public enum Elementwise {
    /// The SIMD variant in use: "avx512", "avx2" or "portable".
    public static var isa: String { String(cString: ck_ops_isa()) }

    /// Forces the portable C variants (tests compare them with the SIMD ones).
    public static func forcePortable(_ portable: Bool) { ck_ops_force_portable(portable ? 1 : 0) }

    public static func apply(_ activation: Activation, _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        switch activation {
        case .relu: ck_relu_f32(input, output, count)
        case .sigmoid: ck_sigmoid_f32(input, output, count)
        case .tanh: ck_tanh_f32(input, output, count)
        case .silu: ck_silu_f32(input, output, count)
        case .gelu: ck_gelu_f32(input, output, count)
        case .geluTanh: ck_gelu_tanh_f32(input, output, count)
        }
    }

    /// The scalar reference of `apply`.
    public static func reference(_ activation: Activation, _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        switch activation {
        case .relu: ck_relu_f32_ref(input, output, count)
        case .sigmoid: ck_sigmoid_f32_ref(input, output, count)
        case .tanh: ck_tanh_f32_ref(input, output, count)
        case .silu: ck_silu_f32_ref(input, output, count)
        case .gelu: ck_gelu_f32_ref(input, output, count)
        case .geluTanh: ck_gelu_tanh_f32_ref(input, output, count)
        }
    }

    public static func add(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        ck_add_f32(a, b, output, count)
    }

    public static func addReference(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        ck_add_f32_ref(a, b, output, count)
    }

    public static func mul(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        ck_mul_f32(a, b, output, count)
    }

    public static func mulReference(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        ck_mul_f32_ref(a, b, output, count)
    }

    /// `y = x · scale[c] + shift[c]` per channel plane of an NCHW buffer (inference batchnorm).
    public static func channelAffine(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, batch: Int,
                                     channels: Int, planeSize: Int, scale: UnsafePointer<Float>, shift: UnsafePointer<Float>) {
        ck_channel_affine_f32(input, output, batch, channels, planeSize, scale, shift)
    }

    public static func channelAffineReference(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, batch: Int,
                                              channels: Int, planeSize: Int, scale: UnsafePointer<Float>, shift: UnsafePointer<Float>) {
        ck_channel_affine_f32_ref(input, output, batch, channels, planeSize, scale, shift)
    }
}

/// Softmax and normalisation over an axis (plain C loops, double accumulation).
public enum Normalization {
    /// Softmax (or log-softmax) over the middle axis of an `[outer, axisLength, inner]` view.
    public static func softmax(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
                               outer: Int, axisLength: Int, inner: Int, log: Bool) {
        ck_softmax_f32(input, output, outer, axisLength, inner, log ? 1 : 0)
    }

    /// Layer norm over each row of `columns` values (biased variance, as PyTorch).
    public static func layerNorm(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, rows: Int, columns: Int,
                                 weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?, eps: Float) {
        ck_layernorm_f32(input, output, rows, columns, weight, bias, eps)
    }
}

/// The sizes of a 2-D pooling window (NCHW, PyTorch/ONNX semantics: padding before and after may
/// differ, output sizes round down or, with `ceilMode`, up — `slidingWindowCount`).
public struct Pool2dGeometry: Sendable, Equatable {
    public var inHeight, inWidth: Int
    public var kernelH, kernelW, strideH, strideW, padH, padW: Int
    /// Padding after the input (bottom, right).
    public var padBottom, padRight: Int
    public var ceilMode: Bool
    /// Average pooling: padding counts in the divisor (PyTorch's default) or not.
    public var countIncludePad: Bool

    public init(inHeight: Int, inWidth: Int, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int),
                paddingEnd: (Int, Int)? = nil, ceilMode: Bool = false, countIncludePad: Bool = true) {
        self.inHeight = inHeight
        self.inWidth = inWidth
        self.countIncludePad = countIncludePad
        self.ceilMode = ceilMode
        (kernelH, kernelW) = kernel
        (strideH, strideW) = stride
        (padH, padW) = padding
        (padBottom, padRight) = paddingEnd ?? padding
    }

    public var outHeight: Int { slidingWindowCount(size: inHeight, padding: (padH, padBottom), span: kernelH, stride: strideH, ceilMode: ceilMode) }
    public var outWidth: Int { slidingWindowCount(size: inWidth, padding: (padW, padRight), span: kernelW, stride: strideW, ceilMode: ceilMode) }

    /// Throws unless sizes are positive, each padding is below the kernel (so every window sees the
    /// input) and the output is non-empty.
    public func validate() throws {
        guard kernelH > 0, kernelW > 0, strideH > 0, strideW > 0, padH >= 0, padW >= 0, padBottom >= 0, padRight >= 0,
              inHeight > 0, inWidth > 0 else {
            throw KernelError.badShape("pool sizes must be positive: kernel \(kernelH)x\(kernelW) stride \(strideH)x\(strideW)")
        }
        guard padH < kernelH, padBottom < kernelH, padW < kernelW, padRight < kernelW,
              inHeight + padH + padBottom >= kernelH, inWidth + padW + padRight >= kernelW else {
            throw KernelError.badShape("pool padding \(padH),\(padW),\(padBottom),\(padRight) does not fit the kernel \(kernelH)x\(kernelW) and input \(inHeight)x\(inWidth)")
        }
        guard outHeight > 0, outWidth > 0 else {
            throw KernelError.badShape("pool output would be empty for input \(inHeight)x\(inWidth)")
        }
    }

    var c: ck_pool2d_geometry {
        ck_pool2d_geometry(in_h: Int64(inHeight), in_w: Int64(inWidth), out_h: Int64(outHeight), out_w: Int64(outWidth),
                           kernel_h: Int64(kernelH), kernel_w: Int64(kernelW), stride_h: Int64(strideH), stride_w: Int64(strideW),
                           pad_h: Int64(padH), pad_w: Int64(padW), pad_b: Int64(padBottom), pad_r: Int64(padRight),
                           count_include_pad: countIncludePad ? 1 : 0)
    }
}

/// Pooling over NCHW planes (`planes` = batch × channels).
public enum Pooling {
    public static func max(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, planes: Int, geometry: Pool2dGeometry) {
        var g = geometry.c
        ck_maxpool2d_f32(input, output, planes, &g)
    }

    /// Average over each window (divisor per `geometry.countIncludePad`).
    public static func average(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, planes: Int, geometry: Pool2dGeometry) {
        var g = geometry.c
        ck_avgpool2d_f32(input, output, planes, &g)
    }

    public static func globalAverage(_ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, planes: Int, planeSize: Int) {
        ck_global_avgpool_f32(input, output, planes, planeSize)
    }
}
