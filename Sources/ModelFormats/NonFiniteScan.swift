import TensorCore

/// NaN and ±Inf in a floating-point tensor: how many, and where the first one is.
public struct NonFiniteCount: Sendable, Equatable {
    public var nan = 0
    public var infinite = 0
    /// Flat (row-major) index of the first non-finite element.
    public var firstIndex: Int?

    public var total: Int { nan + infinite }

    /// One phrase for messages: "2 NaN and 1 Inf values (the first at flat index 7)".
    public var summary: String {
        let parts = [nan > 0 ? "\(nan) NaN" : nil, infinite > 0 ? "\(infinite) Inf" : nil].compactMap { $0 }
        return "\(parts.joined(separator: " and ")) value\(total == 1 ? "" : "s") (the first at flat index \(firstIndex ?? 0))"
    }
}

/// Finds NaN/±Inf in weights, so no command writes them into an artifact without saying so
/// (docs/robustness.md, "Numerics"). Integer and bool tensors are always finite; f16 and bf16
/// are checked on their bit patterns (all-ones exponent), without converting.
public enum NonFiniteScan {
    /// The count for one tensor, or nil when every element is finite.
    public static func count(in tensor: Tensor) -> NonFiniteCount? {
        var result = NonFiniteCount()
        func note(_ i: Int, isNaN: Bool) {
            if isNaN { result.nan += 1 } else { result.infinite += 1 }
            if result.firstIndex == nil { result.firstIndex = i }
        }
        switch tensor.dtype {
        case .f32:
            tensor.withUnsafeBufferPointer(of: Float.self) { values in
                for i in values.indices where !values[i].isFinite { note(i, isNaN: values[i].isNaN) }
            }
        case .f16:
            // binary16: exponent bits 0x7C00; mantissa 0x03FF (non-zero: NaN).
            scanHalfWidth(tensor, exponentMask: 0x7C00, mantissaMask: 0x03FF, note: note)
        case .bf16:
            // bfloat16: exponent bits 0x7F80; mantissa 0x007F.
            scanHalfWidth(tensor, exponentMask: 0x7F80, mantissaMask: 0x007F, note: note)
        case .i8, .u8, .i32, .i64, .bool:
            return nil
        }
        return result.total == 0 ? nil : result
    }

    /// Every tensor holding NaN or ±Inf, in the map's order.
    public static func scan(_ tensors: TensorMap) -> [(name: String, count: NonFiniteCount)] {
        tensors.compactMap { name, tensor in count(in: tensor).map { (name, $0) } }
    }

    private static func scanHalfWidth(_ tensor: Tensor, exponentMask: UInt16, mantissaMask: UInt16, note: (Int, Bool) -> Void) {
        tensor.withUnsafeBufferPointer(of: UInt16.self) { bits in
            for i in bits.indices where bits[i] & exponentMask == exponentMask {
                note(i, bits[i] & mantissaMask != 0)
            }
        }
    }
}
