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

    enum CodingKeys: String, CodingKey { case scales, zeroPoints = "zero_points", axis }
}
