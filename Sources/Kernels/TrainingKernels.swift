import CKernels

/// Hyperparameters of one Adam/AdamW step (see `TrainingKernels.adam`).
public struct AdamStep: Sendable {
    public var beta1, beta2: Float
    /// lr / (1 − β₁ᵗ)
    public var stepSize: Float
    /// √(1 − β₂ᵗ)
    public var bias2Sqrt: Float
    public var epsilon: Float
    /// L2 penalty added to the gradient (Adam's weight decay; 0 for AdamW).
    public var l2: Float
    /// Factor applied to the parameters first (AdamW: 1 − lr·λ; Adam: 1).
    public var decay: Float

    public init(beta1: Float, beta2: Float, stepSize: Float, bias2Sqrt: Float, epsilon: Float, l2: Float, decay: Float) {
        (self.beta1, self.beta2, self.stepSize, self.bias2Sqrt, self.epsilon, self.l2, self.decay) =
            (beta1, beta2, stepSize, bias2Sqrt, epsilon, l2, decay)
    }

    var c: ck_adam_params {
        ck_adam_params(beta1: beta1, beta2: beta2, step_size: stepSize, bias2_sqrt: bias2Sqrt, eps: epsilon, l2: l2, decay: decay)
    }
}

/// The training engine's hot loops (C, AVX-512/AVX2/portable chosen at load time; every variant is
/// bit-identical to its scalar reference, so results do not depend on the CPU).
public enum TrainingKernels {
    /// The variant in use: "avx512", "avx2" or "portable".
    public static var isa: String { String(cString: ck_train_isa()) }

    /// Forces the portable variants (tests compare them with the SIMD ones).
    public static func forcePortable(_ portable: Bool) { ck_train_force_portable(portable ? 1 : 0) }

    /// One `torch.optim.Adam`/`AdamW` step over `count` elements, in place.
    public static func adam(_ parameters: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                            v: UnsafeMutablePointer<Float>, count: Int, _ step: AdamStep, reference: Bool = false) {
        var h = step.c
        if reference { ck_adam_f32_ref(parameters, gradient, m, v, count, &h) } else { ck_adam_f32(parameters, gradient, m, v, count, &h) }
    }

    /// ReLU gradient from the ReLU's output: `dx = y > 0 ? dy : 0`. `dx` may be `dy`.
    public static func reluBackward(dy: UnsafePointer<Float>, y: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, count: Int,
                                    reference: Bool = false) {
        if reference { ck_relu_backward_f32_ref(dy, y, dx, count) } else { ck_relu_backward_f32(dy, y, dx, count) }
    }

    /// `y[r, :] = b` for every row (a linear layer's bias, before the product adds x·Wᵀ with beta 1).
    public static func broadcastRows(_ b: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows: Int, columns: Int) {
        ck_broadcast_rows_f32(b, y, rows, columns)
    }
}

/// The geometry of one convolution group of one sample, for `TrainingKernels.im2col`/`col2imAdd`.
public struct Im2colGeometry: Sendable {
    public var channels, height, width: Int
    public var kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int)
    public var outHeight, outWidth: Int

    public init(channels: Int, height: Int, width: Int, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int),
                dilation: (Int, Int), outHeight: Int, outWidth: Int) {
        (self.channels, self.height, self.width) = (channels, height, width)
        (self.kernel, self.stride, self.padding, self.dilation) = (kernel, stride, padding, dilation)
        (self.outHeight, self.outWidth) = (outHeight, outWidth)
    }

    var c: ck_im2col_geometry {
        ck_im2col_geometry(channels: Int64(channels), height: Int64(height), width: Int64(width),
                           kernel_h: Int64(kernel.0), kernel_w: Int64(kernel.1), stride_h: Int64(stride.0), stride_w: Int64(stride.1),
                           pad_h: Int64(padding.0), pad_w: Int64(padding.1), dilation_h: Int64(dilation.0), dilation_w: Int64(dilation.1),
                           out_h: Int64(outHeight), out_w: Int64(outWidth))
    }
}

extension TrainingKernels {
    /// Unfolds `channels` planes of one sample into column rows `(c·kh + ki)·kw + kj`, each
    /// `outHeight·outWidth` values long and `leadingDimension` apart (samples can sit side by side).
    public static func im2col(_ x: UnsafePointer<Float>, into cols: UnsafeMutablePointer<Float>, leadingDimension: Int, _ geometry: Im2colGeometry,
                              reference: Bool = false) {
        var g = geometry.c
        if reference { ck_im2col_f32_ref(x, cols, leadingDimension, &g) } else { ck_im2col_f32(x, cols, leadingDimension, &g) }
    }

    /// The adjoint of `im2col`: adds the columns back into `dx`.
    public static func col2imAdd(_ cols: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>, leadingDimension: Int, _ geometry: Im2colGeometry,
                                 reference: Bool = false) {
        var g = geometry.c
        if reference { ck_col2im_add_f32_ref(cols, dx, leadingDimension, &g) } else { ck_col2im_add_f32(cols, dx, leadingDimension, &g) }
    }
}

extension TrainingKernels {
    /// Max pooling over `planes` NCHW planes that also records each output's flat input index of its
    /// maximum (first wins; NaN wins), for the backward pass. Implicit −∞ padding, floor mode.
    public static func maxPoolWithArgmax(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>,
                                         planes: Int, height: Int, width: Int, kernel: (Int, Int), stride: (Int, Int),
                                         padding: (Int, Int), outHeight: Int, outWidth: Int, reference: Bool = false) {
        let kernelFunction = reference ? ck_maxpool2d_argmax_f32_ref : ck_maxpool2d_argmax_f32
        kernelFunction(x, y, argmax, planes, Int64(height), Int64(width), Int64(kernel.0), Int64(kernel.1),
                       Int64(stride.0), Int64(stride.1), Int64(padding.0), Int64(padding.1), Int64(outHeight), Int64(outWidth))
    }

    /// Max pooling's gradient: `dx[argmax[i]] += dy[i]` for `i < count`.
    public static func maxPoolBackward(dy: UnsafePointer<Float>, argmax: UnsafePointer<Int32>, dx: UnsafeMutablePointer<Float>, count: Int) {
        ck_maxpool2d_backward_f32(dy, argmax, dx, count)
    }
}
