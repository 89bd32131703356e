extension Tensor {
    /// The values as f32. Quantized tensors are dequantized (`scale · (q − zeroPoint)`), half
    /// precision is widened, integers and booleans are converted.
    public func toF32() -> Tensor {
        if dtype == .f32 && quant == nil { return self }
        defer { storage.releaseResidentPages() }
        var out = Tensor(zeros: .f32, shape)
        let n = elementCount
        out.withUnsafeMutableBufferPointer(of: Float.self) { dst in
            let raw = storage.pointer
            switch dtype {
            case .f32: for i in 0..<n { dst[i] = raw.load(fromByteOffset: 4 * i, as: Float.self) }
            case .f16: for i in 0..<n { dst[i] = floatFromHalfBits(raw.load(fromByteOffset: 2 * i, as: UInt16.self)) }
            case .bf16: for i in 0..<n { dst[i] = Float(bitPattern: UInt32(raw.load(fromByteOffset: 2 * i, as: UInt16.self)) << 16) }
            case .i8: for i in 0..<n { dst[i] = Float(raw.load(fromByteOffset: i, as: Int8.self)) }
            case .u8, .bool: for i in 0..<n { dst[i] = Float(raw.load(fromByteOffset: i, as: UInt8.self)) }
            case .i32: for i in 0..<n { dst[i] = Float(raw.load(fromByteOffset: 4 * i, as: Int32.self)) }
            case .i64: for i in 0..<n { dst[i] = Float(raw.load(fromByteOffset: 8 * i, as: Int64.self)) }
            }
            if let q = quant { dequantizeInPlace(dst, params: q) }
        }
        return out
    }

    private func dequantizeInPlace(_ values: UnsafeMutableBufferPointer<Float>, params q: QuantParams) {
        guard let axis = q.axis else {
            let s = q.scales[0], z = Float(q.zeroPoints[0])
            for i in values.indices { values[i] = s * (values[i] - z) }
            return
        }
        let channels = shape[axis]
        let inner = shape.dims[(axis + 1)...].reduce(1, *)
        for i in values.indices {
            let c = (i / inner) % channels
            values[i] = q.scales[c] * (values[i] - Float(q.zeroPoints[c]))
        }
    }

    /// The elements as a Swift array of f32 values (dequantized/widened as `toF32`).
    public var floats: [Float] { toF32().withUnsafeBufferPointer(of: Float.self) { Array($0) } }

    /// How many elements are zero by value (±0; a quantized element equal to its zero point) — the
    /// one count behind every "sparsity" figure.
    public var zeroCount: Int {
        if dtype == .f32 && quant == nil {
            return withUnsafeBufferPointer(of: Float.self) { $0.reduce(0) { $0 + ($1 == 0 ? 1 : 0) } }
        }
        return floats.reduce(0) { $0 + ($1 == 0 ? 1 : 0) }
    }

    /// Integer elements widened to Int (labels, indices). Floats are truncated toward zero (and must
    /// be finite and in range, as `Int(_: Float)` requires).
    public var integers: [Int] {
        if dtype.isFloatingPoint { return floats.map { Int($0) } }  // one conversion for the whole tensor
        let raw = storage.pointer
        return (0..<elementCount).map { i in
            switch dtype {
            case .i8: return Int(raw.load(fromByteOffset: i, as: Int8.self))
            case .u8, .bool: return Int(raw.load(fromByteOffset: i, as: UInt8.self))
            case .i32: return Int(raw.load(fromByteOffset: 4 * i, as: Int32.self))
            case .i64: return Int(raw.load(fromByteOffset: 8 * i, as: Int64.self))
            case .f32, .f16, .bf16: preconditionFailure("floating-point dtypes are handled above")
            }
        }
    }
}

/// IEEE 754 binary16 → binary32, exact (including subnormals, infinities and NaN).
public func floatFromHalfBits(_ h: UInt16) -> Float {
    let sign = UInt32(h >> 15) << 31
    let exponent = Int((h >> 10) & 0x1F)
    let mantissa = UInt32(h & 0x3FF)
    if exponent == 0 {
        if mantissa == 0 { return Float(bitPattern: sign) }
        let value = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
        return sign == 0 ? value : -value
    }
    if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
    return Float(bitPattern: sign | UInt32(exponent - 15 + 127) << 23 | mantissa << 13)
}
