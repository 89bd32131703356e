import TensorCore

/// How a tensor's bytes are laid out inside its artifact member, before zstd (docs/formats.md §4).
public enum TensorEncoding: String, Codable, Sendable, CaseIterable {
    /// All elements, little-endian, row-major.
    case dense
    /// Dense bytes of an `i8` tensor that carries quantization parameters.
    case int8
    /// A bitmap of the elements that are not all-zero bytes, then those elements packed.
    case sparse
    /// A mask with no member: element i is 1 iff element i of the parameter with the same name is
    /// non-zero (floats: any bit other than the sign bit set).
    case paramNonzero = "param_nonzero"
    /// A mask stored as its difference from "parameter != 0": the member holds one byte per element,
    /// 1 where the mask differs (e.g. a kept weight that quantization rounded to zero). Mostly zeros,
    /// so zstd makes it nearly free.
    case paramNonzeroXor = "param_nonzero_xor"
}

/// A reversible byte transform applied to the element bytes of an encoding (dense elements or the
/// packed sparse values).
public enum ByteTransform: String, Codable, Sendable, CaseIterable {
    case none
    case shuffle
}

/// Element-level helpers shared by the encoder, the decoder and mask references.
enum ElementBits {
    /// True when element `i` (of `width` bytes) has every byte zero — what `sparse` leaves out.
    @inline(__always)
    static func isAllZero(_ base: UnsafeRawPointer, _ i: Int, width: Int) -> Bool {
        switch width {
        case 1: return base.load(fromByteOffset: i, as: UInt8.self) == 0
        case 2: return base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self) == 0
        case 4: return base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self) == 0
        case 8: return base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self) == 0
        default:
            for k in 0..<width where base.load(fromByteOffset: i * width + k, as: UInt8.self) != 0 { return false }
            return true
        }
    }

    /// Why `mask` cannot be the pruning mask of `param`, or nil: a mask holds only 0 and 1 and keeps
    /// every non-zero element of its parameter (pruned elements are zero; docs/formats.md §4.1).
    static func maskProblem(_ mask: Tensor, of param: Tensor) -> String? {
        guard mask.withUnsafeBytes({ $0.allSatisfy { $0 <= 1 } }) else { return "an element is neither 0 nor 1" }
        let nonzero = nonzeroMask(of: param)
        let dropped = mask.withUnsafeBytes { m in nonzero.withUnsafeBytes { p in m.indices.first { m[$0] == 0 && p[$0] != 0 } } }
        return dropped.map { "element \($0) is 0 but the parameter's element \($0) is not zero" }
    }

    /// Element-wise XOR of two `bool` tensors of one shape (1 where they differ).
    static func difference(_ a: Tensor, _ b: Tensor) -> Tensor {
        var out = Tensor(zeros: .bool, a.shape)
        a.withUnsafeBytes { x in
            b.withUnsafeBytes { y in
                out.withUnsafeMutableBytes { z in for i in z.indices { z[i] = (x[i] != 0) != (y[i] != 0) ? 1 : 0 } }
            }
        }
        return out
    }

    /// The mask "parameter != 0" as a `bool` tensor: for floating-point dtypes ±0 are zero (a pruned
    /// weight multiplied by a 0 mask may be -0.0) and NaN is non-zero; integers compare with 0.
    static func nonzeroMask(of tensor: Tensor) -> Tensor {
        var mask = Tensor(zeros: .bool, tensor.shape)
        let n = tensor.elementCount
        let signMask: UInt64
        switch tensor.dtype {
        case .f32: signMask = 0x7FFF_FFFF
        case .f16, .bf16: signMask = 0x7FFF
        case .i8, .u8, .i32, .i64, .bool: signMask = ~0
        }
        let width = tensor.dtype.byteSize
        tensor.withUnsafeBytes { src in
            mask.withUnsafeMutableBytes { dst in
                let base = src.baseAddress!
                for i in 0..<n {
                    let bits: UInt64
                    switch width {
                    case 1: bits = UInt64(base.load(fromByteOffset: i, as: UInt8.self))
                    case 2: bits = UInt64(base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    case 4: bits = UInt64(base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
                    default: bits = base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)
                    }
                    dst[i] = bits & signMask != 0 ? 1 : 0
                }
            }
        }
        return mask
    }
}
