import CKernels
import Foundation
import TensorCore

/// How an INT8 layer's input or output activation is represented: `q = clamp(round(x / scale) +
/// zeroPoint, 0, 255)` in u8. A symmetric s8 activation (zero point 0) is carried as u8 with zero
/// point 128 (`q_u8 = q_s8 + 128`): the same integers shifted, so one u8×s8 kernel serves both.
public struct ActivationQuantization: Hashable, Sendable {
    public var scale: Float
    public var zeroPoint: Int32

    public init(scale: Float, zeroPoint: Int32) {
        self.scale = scale
        self.zeroPoint = zeroPoint
    }

    /// From the graph's `input_quant` fields (`dtype` "u8" or "i8").
    public init(scale: Float, zeroPoint: Int32, dtype: DType) {
        self.init(scale: scale, zeroPoint: dtype == .i8 ? zeroPoint + 128 : zeroPoint)
    }

    /// Quantizes `count` floats to u8 (`ck_quantize_f32_u8`).
    public func quantize(_ x: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<UInt8>) {
        ck_quantize_f32_u8(x, count, scale, zeroPoint, out)
    }

    /// The real values of `count` u8 codes: `x = (q − zeroPoint) · scale`.
    public func dequantize(_ q: UnsafePointer<UInt8>, count: Int, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<count { out[i] = Float(Int32(q[i]) - zeroPoint) * scale }
    }
}

/// What an INT8 layer writes: u8 for a following INT8 layer (requantized with that layer's input
/// parameters, no float round trip), or f32. `relu` fuses a following ReLU.
public enum Int8Output: Hashable, Sendable {
    case u8(ActivationQuantization, relu: Bool)
    case f32(relu: Bool)
}

/// One INT8 linear layer (or a conv2d after im2col): u8 input × s8 weight → s32 → requantized
/// output, with bias in int32 at scale `s_x·s_w[j]` and the input zero point folded in:
/// `acc[i][j] + offset[j]`, `offset[j] = round(b[j] / (s_x·s_w[j])) − z_x·Σ_p w[j][p]`.
public final class Int8Linear: @unchecked Sendable {
    public let matmul: Int8Matmul
    public let input: ActivationQuantization
    /// `s_x · s_w[j]`: the real value of one accumulator unit in channel j.
    public let accumulatorScales: [Float]
    public let offsets: [Int32]

    /// `weight`: `i8` `[n, k…]` with symmetric `QuantParams` (per channel on axis 0 or per tensor);
    /// `bias`: f32 `[n]` or nil; `product`: which exact product runs (nil = the fastest available).
    public init(weight: Tensor, bias: Tensor?, input: ActivationQuantization, product: Int8Product? = nil) throws {
        guard weight.dtype == .i8, let q = weight.quant, q.isSymmetric, q.axis == nil || q.axis == 0,
              let n = weight.shape.dims.first, n > 0 else {
            throw Int8KernelError.badWeight("weight must be i8 with symmetric per-tensor or axis-0 scales")
        }
        let k = weight.elementCount / n
        let scales = q.axis == nil ? [Float](repeating: q.scales[0], count: n) : q.scales
        guard scales.count == n else { throw Int8KernelError.badWeight("\(scales.count) scales for \(n) channels") }
        matmul = try Int8Matmul(weights: weight.withUnsafeBufferPointer(of: Int8.self) { Array($0) }, n: n, k: k, product: product)
        self.input = input
        let accumulatorScales = scales.map { input.scale * $0 }
        self.accumulatorScales = accumulatorScales
        let b = bias?.floats ?? [Float](repeating: 0, count: n)
        guard b.count == n else { throw Int8KernelError.badWeight("bias has \(b.count) values for \(n) channels") }
        let sums = matmul.channelSums
        let zeroPoint = input.zeroPoint
        offsets = (0..<n).map { j in
            let scaled = (Double(b[j]) / Double(accumulatorScales[j])).rounded(.toNearestOrEven)
            let biasQ = Int32(max(min(scaled, Double(Int32.max / 2)), Double(Int32.min / 2)))
            return biasQ &- zeroPoint &* sums[j]
        }
    }

    public var n: Int { matmul.n }
    public var k: Int { matmul.k }

    /// An output mode with its per-channel factors computed once (at plan time), so a run
    /// allocates nothing: `s_x·s_w[j] / s_next` for u8, `s_x·s_w[j]` for f32.
    public struct Epilogue: Sendable {
        public let mode: Int8Output
        let factors: [Float]
    }

    public func epilogue(_ mode: Int8Output) -> Epilogue {
        switch mode {
        case .u8(let next, _): return Epilogue(mode: mode, factors: accumulatorScales.map { $0 / next.scale })
        case .f32: return Epilogue(mode: mode, factors: accumulatorScales)
        }
    }

    /// Runs `m` rows of u8 input (m·k) into `output` (m·n u8 or f32 as `epilogue` says), using
    /// `accumulators` (m·n) as scratch, on the matmul's `product`. `reference` selects the plain C
    /// product (the test oracle);
    /// `sparse` the sparse product of the same (pruned) weight, with its scratch
    /// (`SparseInt8.scratchBytes`): the same integers, so the same output bytes.
    public func forward(_ x: UnsafePointer<UInt8>, m: Int, accumulators: UnsafeMutablePointer<Int32>,
                        output: UnsafeMutableRawPointer, epilogue: Epilogue, context: ExecutionContext,
                        reference: Bool = false, sparse: (matrix: SparseInt8Matrix, scratch: UnsafeMutableRawPointer)? = nil) throws {
        if let sparse {
            precondition(sparse.matrix.rows == n && sparse.matrix.cols == k, "sparse weight does not match the layer")
            SparseInt8.product(weight: sparse.matrix, x: x, m: m, accumulators: accumulators, scratch: sparse.scratch)
        } else if reference {
            matmul.reference(a: x, m: m, c: accumulators)
        } else {
            try matmul.run(a: x, m: m, c: accumulators, context: context)
        }
        switch epilogue.mode {
        case .u8(let next, let relu):
            ck_requantize_s32_u8(accumulators, m, n, offsets, epilogue.factors, next.zeroPoint, relu ? 1 : 0,
                                 output.assumingMemoryBound(to: UInt8.self))
        case .f32(let relu):
            ck_dequantize_s32_f32(accumulators, m, n, offsets, epilogue.factors, relu ? 1 : 0,
                                  output.assumingMemoryBound(to: Float.self))
        }
    }

    /// One-off form of `forward` (builds the epilogue and a context per call; for tests and tools).
    public func forward(_ x: UnsafePointer<UInt8>, m: Int, accumulators: UnsafeMutablePointer<Int32>,
                        output: UnsafeMutableRawPointer, mode: Int8Output, reference: Bool = false,
                        sparse: SparseInt8Matrix? = nil) throws {
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(SparseInt8.scratchBytes(inFeatures: k), 1), alignment: 64)
        defer { scratch.deallocate() }
        try forward(x, m: m, accumulators: accumulators, output: output, epilogue: epilogue(mode),
                    context: ExecutionContext(), reference: reference, sparse: sparse.map { ($0, scratch) })
    }

    /// The layer's weight as a sparse matrix (for the sparse product).
    public func sparseWeight() -> SparseInt8Matrix {
        matmul.weights.withUnsafeBufferPointer { SparseInt8Matrix(dense: $0, rows: n, cols: k) }
    }
}
