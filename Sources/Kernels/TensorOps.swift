import CKernels

/// Parameterised element-wise functions (ONNX semantics, docs/ops.md), C loops in `ck_tensor.c`.
public enum UnaryFunction: Sendable, Equatable {
    case clip(min: Float, max: Float)
    case hardSigmoid(alpha: Float, beta: Float)
    case hardSwish
    case leakyRelu(alpha: Float)
    case erf, sqrt, reciprocal, exp, log, neg, abs, softplus, mish
    /// Logical not of a mask held as f32 0/1.
    case not
    /// Toward zero (a cast to an integer type).
    case trunc
    /// 1 for non-zero, else 0 (a cast to bool).
    case nonZero

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
        case .softplus: return (Int32(CK_UNARY_SOFTPLUS.rawValue), 0, 0)
        case .mish: return (Int32(CK_UNARY_MISH.rawValue), 0, 0)
        case .not: return (Int32(CK_UNARY_NOT.rawValue), 0, 0)
        case .trunc: return (Int32(CK_UNARY_TRUNC.rawValue), 0, 0)
        case .nonZero: return (Int32(CK_UNARY_NONZERO.rawValue), 0, 0)
        }
    }
}

/// Binary arithmetic; the comparisons write masks as f32 0/1 (docs/ops.md, "Values").
public enum BinaryOperation: Int32, Sendable {
    case add, sub, mul, div, pow, min, max, equal, less, greater
}

public enum ReduceOperation: Int32, Sendable {
    case mean, sum, max, min
}

/// The index space of a broadcasting op over row-major buffers: output dims and, per operand, the
/// element stride along each (0 where it broadcasts). Dimension 0 is the batch (set per run); the
/// others are merged where every operand stays contiguous across them, so the C loop's inner
/// dimension is as long as possible.
public struct BroadcastLayout: Sendable, Equatable {
    public private(set) var dims: [Int64]
    /// Per operand, in the order given.
    public private(set) var strides: [[Int64]]

    /// `output`: the full output shape; `operands`: each operand's shape, right-aligned against it
    /// (NumPy rules; a missing leading dim or a size 1 broadcasts).
    public init(output: [Int], operands: [[Int]]) {
        let full = operands.map { shape -> [Int64] in
            let aligned = [Int](repeating: 1, count: output.count - shape.count) + shape
            var stride: Int64 = 1
            var out = [Int64](repeating: 0, count: output.count)
            for i in aligned.indices.reversed() {
                out[i] = aligned[i] == 1 && output[i] != 1 ? 0 : stride
                stride *= Int64(aligned[i])
            }
            return out
        }
        // Keep dim 0 (the batch); merge the rest where possible.
        var dims: [Int64] = [Int64(output.first ?? 1)]
        var strides = full.map { [$0.first ?? 0] }
        for i in output.indices.dropFirst() where output[i] != 1 {
            let d = Int64(output[i])
            if dims.count > 1, strides.indices.allSatisfy({ strides[$0].last! == full[$0][i] * d }) {
                dims[dims.count - 1] *= d
                for k in strides.indices { strides[k][strides[k].count - 1] = full[k][i] }
            } else {
                dims.append(d)
                for k in strides.indices { strides[k].append(full[k][i]) }
            }
        }
        if dims.count == 1 {
            dims.append(1)
            for k in strides.indices { strides[k].append(0) }
        }
        (self.dims, self.strides) = (dims, strides)
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
        ck_binary_strided_f32(op.rawValue, layout.dims.count, layout.dims, layout.strides[0], layout.strides[1], a, b, output)
    }

    /// `cond ≠ 0 ? a : b` (operands in that order in `layout`).
    public static func select(layout: BroadcastLayout, _ condition: UnsafePointer<Float>, _ a: UnsafePointer<Float>,
                              _ b: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>) {
        ck_where_strided_f32(layout.dims.count, layout.dims, layout.strides[0], layout.strides[1], layout.strides[2], condition, a, b, output)
    }

    /// Gathers blocks of `inner` along the middle axis of `[outer, axisLength, inner]`; returns the
    /// position of the first index out of range, if any.
    public static func gather(_ input: UnsafePointer<Float>, indices: UnsafePointer<Float>, _ output: UnsafeMutablePointer<Float>,
                              outer: Int, axisLength: Int, inner: Int, count: Int) -> Int? {
        let bad = ck_gather_f32(input, indices, output, outer, axisLength, inner, count)
        return bad < 0 ? nil : Int(bad)
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
