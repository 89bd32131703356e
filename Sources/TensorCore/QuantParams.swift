/// Affine quantization parameters: `real = scale · (q − zeroPoint)`.
///
/// `axis == nil` means one scale and zero point for the whole tensor; otherwise there is one
/// per index along `axis` (the output channel, axis 0, for linear and conv weights).
public struct QuantParams: Codable, Hashable, Sendable {
    public var scales: [Float]
    public var zeroPoints: [Int32]
    public var axis: Int?

    public init(scales: [Float], zeroPoints: [Int32], axis: Int?) {
        precondition(scales.count == zeroPoints.count, "one zero point per scale")
        self.scales = scales
        self.zeroPoints = zeroPoints
        self.axis = axis
    }

    public var isPerChannel: Bool { axis != nil }
    public var isSymmetric: Bool { zeroPoints.allSatisfy { $0 == 0 } }

    /// Why these parameters cannot describe a tensor of `dtype` and shape `dims`, or nil when they
    /// can: a quantized dtype (i8, u8, i32); at least one scale, each finite, positive and a normal
    /// f32 (a zero or subnormal scale divides by zero in the INT8 kernels); each zero point within
    /// the dtype; `axis` nil with one scale, or an axis of the shape as long as the scale list.
    public func invalidity(dtype: DType, dims: [Int]) -> String? {
        let range: ClosedRange<Int32>
        switch dtype {
        case .u8: range = 0...255
        case .i8: range = -128...127
        case .i32: range = Int32.min...Int32.max
        case .f32, .f16, .bf16, .i64, .bool: return "a \(dtype.rawValue) tensor cannot be quantized"
        }
        guard !scales.isEmpty else { return "needs at least one scale" }
        if let i = scales.firstIndex(where: { !($0.isNormal && $0 > 0) }) {
            return "scale \(scales[i]) (index \(i)) is not a positive normal f32 value"
        }
        if let i = zeroPoints.firstIndex(where: { !range.contains($0) }) {
            return "zero point \(zeroPoints[i]) (index \(i)) is outside the range of \(dtype.rawValue) (\(range.lowerBound)…\(range.upperBound))"
        }
        if let axis {
            guard axis >= 0, axis < dims.count, dims[axis] == scales.count else {
                return "axis \(axis) does not fit shape \(dims) with \(scales.count) scales"
            }
        } else if scales.count != 1 {
            return "per-tensor parameters need exactly one scale, got \(scales.count)"
        }
        return nil
    }

    enum CodingKeys: String, CodingKey { case scales, zeroPoints = "zero_points", axis }
}
