import Foundation
import TensorCore

/// How weights and activations map to integers (DESIGN §6). Rounding is to nearest, ties to even,
/// everywhere (`roundWithTiesToEven`, as TensorRT and PyTorch).
///
/// - Weights: symmetric, `q = clamp(round(w / s), −qw, qw)` with `s = max|w| / qw` per output
///   channel (axis 0) or per tensor, zero point 0; `qw = 127`, or 63 for 7-bit weights (see `weightBits`).
/// - Activations (the input of each linear/conv), per tensor, from a clipping range `[lo, hi]`
///   first widened to contain 0 (so 0 is exact: padding, ReLU): `lo' = min(lo, 0)`, `hi' = max(hi, 0)`.
///   - `u8` asymmetric (default): `s = (hi' − lo') / 255`, `z = clamp(round(−lo' / s), 0, 255)`,
///     `q = clamp(round(x / s) + z, 0, 255)`.
///   - `i8` symmetric: `s = max(−lo', hi') / 127`, `z = 0`, `q = clamp(round(x / s), −128, 127)`.
///   - Degenerate ranges (all zero): `s = 1`, `z = 0` — every value seen is 0, which is exact.
/// - Bias: int32 at scale `s_x · s_w[c]`, `b_q = round(b / (s_x · s_w[c]))`, computed by the kernel
///   at plan time; the artifact keeps the f32 bias.
public struct QuantScheme: Hashable, Sendable {
    public enum ActivationType: String, Codable, Sendable { case u8, i8 }

    public var perChannelWeights: Bool
    public var activationType: ActivationType
    /// 8 (codes ±127) or 7 (±63: oneDNN's `vpmaddubsw` product cannot saturate, 2·255·63 < 2^15,
    /// so CPUs without VNNI run oneDNN too). A choice of the user, never of the quantizing host:
    /// every width gives the same outputs on every CPU (docs/quantization.md, "Weight width").
    public var weightBits: Int

    /// `quantize --weight-bits` when not given (docs/quantization.md explains the choice).
    public static let defaultWeightBits = 8

    /// The scheme for a user-given width (`badWeightBits` unless 8 or 7).
    public static func checked(perChannelWeights: Bool, activationType: ActivationType, weightBits: Int) throws -> QuantScheme {
        guard weightBits == 8 || weightBits == 7 else { throw QuantizationError.badWeightBits(weightBits) }
        return QuantScheme(perChannelWeights: perChannelWeights, activationType: activationType, weightBits: weightBits)
    }

    public init(perChannelWeights: Bool = true, activationType: ActivationType = .u8, weightBits: Int = defaultWeightBits) {
        precondition(weightBits == 7 || weightBits == 8, "weights are 7 or 8 bits")
        self.perChannelWeights = perChannelWeights
        self.activationType = activationType
        self.weightBits = weightBits
    }

    /// Largest weight magnitude code: 127 (8 bits) or 63 (7 bits).
    public var weightMax: Int32 { weightBits == 8 ? 127 : 63 }

    /// Number of activation levels observers optimise for.
    public var activationLevels: Int { 256 }

    /// Scale and zero point of an activation with clipping range `[lo, hi]` (see the type's doc).
    public func activationParameters(min lo: Float, max hi: Float) -> (scale: Float, zeroPoint: Int32) {
        let low = Swift.min(lo, 0), high = Swift.max(hi, 0)
        switch activationType {
        case .u8:
            let scale = (high - low) / 255
            guard scale > 0, scale.isFinite else { return (1, 0) }
            let zero = (-low / scale).rounded(.toNearestOrEven)
            return (scale, Int32(Swift.min(Swift.max(zero, 0), 255)))
        case .i8:
            let scale = Swift.max(-low, high) / 127
            guard scale > 0, scale.isFinite else { return (1, 0) }
            return (scale, 0)
        }
    }

    /// Quantizes a weight (axis 0 = output channel) to `i8` with symmetric `QuantParams`.
    /// A channel of zeros gets scale 1 (its codes are all 0). The weight must be finite
    /// (`Quantizer.quantize` checks it and names the node).
    public func quantizeWeight(_ weight: Tensor) -> Tensor {
        let source = weight.dtype == .f32 ? weight : weight.toF32()
        let channels = perChannelWeights ? Swift.max(weight.shape.dims.first ?? 1, 1) : 1
        let inner = source.elementCount / channels
        var scales = [Float](repeating: 1, count: channels)
        var out = Tensor(zeros: .i8, weight.shape)
        let limit = Float(weightMax)
        source.withUnsafeBufferPointer(of: Float.self) { w in
            out.withUnsafeMutableBufferPointer(of: Int8.self) { q in
                for c in 0..<channels {
                    let base = c * inner
                    var amax: Float = 0
                    for i in base..<(base + inner) { amax = Swift.max(amax, abs(w[i])) }
                    let scale = amax > 0 ? amax / limit : 1
                    scales[c] = scale
                    for i in base..<(base + inner) {
                        q[i] = Int8(Self.roundToEven(Swift.min(Swift.max(w[i] / scale, -limit), limit)))
                    }
                }
            }
        }
        out.quant = QuantParams(scales: scales, zeroPoints: [Int32](repeating: 0, count: channels),
                                axis: perChannelWeights ? 0 : nil)
        return out
    }

    /// `v.rounded(.toNearestOrEven)` for |v| ≤ 2^22 (here |v| ≤ 127): adding and subtracting 1.5·2^23
    /// leaves the nearest integer, ties to even, in IEEE round-to-nearest arithmetic. Written this way
    /// the weight loop vectorizes (a `rint` call per element otherwise). Clamping before rounding
    /// gives the same codes as after, since the limits are integers.
    @inline(__always) static func roundToEven(_ v: Float) -> Float {
        let magic: Float = 12_582_912  // 1.5 · 2^23
        return (v + magic) - magic
    }

    /// Fake-quantizes activations (quantize then dequantize) with the given parameters.
    public func fakeQuantize(_ x: Float, scale: Float, zeroPoint: Int32) -> Float {
        let (qmin, qmax): (Float, Float) = activationType == .u8 ? (0, 255) : (-128, 127)
        let q = Swift.min(Swift.max((x / scale).rounded(.toNearestOrEven) + Float(zeroPoint), qmin), qmax)
        return scale * (q - Float(zeroPoint))
    }
}
