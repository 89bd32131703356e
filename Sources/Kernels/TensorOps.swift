import CKernels

/// Parameterised element-wise functions (ONNX semantics, docs/ops.md), C loops in `ck_tensor.c`.
public enum UnaryFunction: Sendable, Equatable {
    case clip(min: Float, max: Float)
    case hardSigmoid(alpha: Float, beta: Float)
    case hardSwish
    case leakyRelu(alpha: Float)
    case erf, sqrt, reciprocal, exp, log, neg, abs

    var code: (op: Int32, a: Float, b: Float) {
        switch self {
        case .clip(let lo, let hi): return (Int32(CK_UNARY_CLIP.rawValue), lo, hi)
        case .hardSigmoid(let alpha, let beta): return (Int32(CK_UNARY_HARDSIGMOID.rawValue), alpha, beta)
        case .hardSwish: return (Int32(CK_UNARY_HARDSWISH.rawValue), 0, 0)
        case .leakyRelu(let alpha): return (Int32(CK_UNARY_LEAKY_RELU.rawValue), alpha, 0)
        case .erf: return (Int32(CK_UNARY_ERF.rawValue), 0, 0)
        case .sqrt: return (Int32(CK_UNARY_SQRT.rawValue), 0, 0)
        case .reciprocal: return (Int32(CK_UNARY_RECIPROCAL.rawValue), 0, 0)
        case .exp: return (Int32(CK_UNARY_EXP.rawValue), 0, 0)
        case .log: return (Int32(CK_UNARY_LOG.rawValue), 0, 0)
        case .neg: return (Int32(CK_UNARY_NEG.rawValue), 0, 0)
        case .abs: return (Int32(CK_UNARY_ABS.rawValue), 0, 0)
        }
    }
}

public enum BinaryOperation: Int32, Sendable {
    case add, sub, mul, div
}

public enum ReduceOperation: Int32, Sendable {
    case mean, sum, max, min
}

/// The index space of a broadcasting binary op over row-major buffers: output dims and, per operand,
/// the element stride along each (0 where it broadcasts). Dimension 0 is the batch (set per run);
/// the others are merged where both operands stay contiguous across them, so the C loop's inner
/// dimension is as long as possible.
public struct BroadcastLayout: Sendable, Equatable {
    public private(set) var dims: [Int64]
    public private(set) var aStrides: [Int64]
    public private(set) var bStrides: [Int64]

    /// `output`: the full output shape; `a`/`b`: each operand's shape right-aligned against it
    /// (NumPy rules; a missing leading dim or a size 1 broadcasts).
    public init(output: [Int], a: [Int], b: [Int]) {
        func strides(_ shape: [Int]) -> [Int64] {
            let aligned = [Int](repeating: 1, count: output.count - shape.count) + shape
            var stride: Int64 = 1
            var out = [Int64](repeating: 0, count: output.count)
            for i in aligned.indices.reversed() {
                out[i] = aligned[i] == 1 && output[i] != 1 ? 0 : stride
                stride *= Int64(aligned[i])
            }
            return out
        }
        let sa = strides(a), sb = strides(b)
        // Keep dim 0 (the batch); merge the rest where possible.
        var dims: [Int64] = output.isEmpty ? [] : [Int64(output[0])]
        var ra: [Int64] = output.isEmpty ? [] : [sa[0]], rb: [Int64] = output.isEmpty ? [] : [sb[0]]
        for i in output.indices.dropFirst() where output[i] != 1 {
            let d = Int64(output[i])
            if dims.count > 1, ra.last! == sa[i] * d, rb.last! == sb[i] * d {
                dims[dims.count - 1] *= d
                ra[ra.count - 1] = sa[i]
                rb[rb.count - 1] = sb[i]
            } else {
                dims.append(d)
                ra.append(sa[i])
                rb.append(sb[i])
            }
        }
        if dims.count == 1 { dims.append(1); ra.append(0); rb.append(0) }
        (self.dims, aStrides, bStrides) = (dims, ra, rb)
    }

    /// The same layout with dimension 0 set to `batch`.
    public func withBatch(_ batch: Int) -> BroadcastLayout {
        var copy = self
        copy.dims[0] = Int64(batch)
        return copy
    }
}

/// Shape-general kernels on f32 buffers (`ck_tensor.c`).
public enum TensorOps {
    public static func unary(_ f: UnaryFunction, _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>, count: Int) {
        let c = f.code
        ck_unary_f32(c.op, input, output, count, c.a, c.b)
    }

    public static func binary(_ op: BinaryOperation, layout: BroadcastLayout, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                              _ output: UnsafeMutablePointer<Float>) {
        ck_binary_strided_f32(op.rawValue, layout.dims.count, layout.dims, layout.aStrides, layout.bStrides, a, b, output)
    }

    /// Reduces the middle axis of an `[outer, length, inner]` view.
    public static func reduce(_ op: ReduceOperation, _ input: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
                              outer: Int, length: Int, inner: Int) {
        ck_reduce_f32(op.rawValue, input, output, outer, length, inner)
    }

    /// `dst[i·dstStrides] = src[i·srcStrides]` over the index space `dims`.
    public static func copyStrided(dims: [Int64], srcStrides: [Int64], dstStrides: [Int64],
                                   _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>) {
        ck_copy_strided_f32(dims.count, dims, srcStrides, dstStrides, src, dst)
    }

    public static func fill(_ output: UnsafeMutablePointer<Float>, count: Int, value: Float) {
        ck_fill_f32(output, count, value)
    }

    /// Row-major element strides of `shape`.
    public static func contiguousStrides(_ shape: [Int]) -> [Int64] {
        var strides = [Int64](repeating: 1, count: shape.count)
        for i in shape.indices.dropLast().reversed() { strides[i] = strides[i + 1] * Int64(shape[i + 1]) }
        return strides
    }
}
