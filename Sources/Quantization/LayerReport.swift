import TensorCore

/// What quantization did to one linear/conv2d node (the `--report` file, one entry per layer).
public struct LayerReport: Codable, Hashable, Sendable {
    /// `int8`, or why the layer stayed FP32.
    public enum Status: String, Codable, Sendable { case int8, excluded, fallback }

    public var node: String
    public var input: String
    public var status: Status
    /// Why it stayed FP32 (`--exclude`, or the accuracy it cost in accuracy-aware mode).
    public var reason: String?
    /// The input activation's clipping range and quantization.
    public var rangeMin: Float
    public var rangeMax: Float
    public var scale: Float
    public var zeroPoint: Int32
    public var activationType: String
    /// Fraction of calibration values outside the range (clipped).
    public var clippedFraction: Double
    /// 10·log10(E[x²] / E[(x − q(x))²]) of the input activation, estimated over the histogram.
    public var activationSQNR: Double
    /// The same, computed exactly over the weight tensor.
    public var weightSQNR: Double
    public var weightScaleMin: Float
    public var weightScaleMax: Float
    /// Test accuracy lost when only this layer is quantized (accuracy-aware mode).
    public var accuracyCost: Double?

    enum CodingKeys: String, CodingKey {
        case node, input, status, reason, rangeMin = "range_min", rangeMax = "range_max", scale,
             zeroPoint = "zero_point", activationType = "activation_dtype", clippedFraction = "clipped_fraction",
             activationSQNR = "activation_sqnr_db", weightSQNR = "weight_sqnr_db", weightScaleMin = "weight_scale_min",
             weightScaleMax = "weight_scale_max", accuracyCost = "accuracy_cost"
    }
}

/// 10·log10(signal / noise), capped at 200 dB when the noise is zero.
func decibels(signal: Double, noise: Double) -> Double {
    guard noise > 0 else { return signal > 0 ? 200 : 0 }
    guard signal > 0 else { return -200 }
    return Swift.min(200, 10 * log10(signal / noise))
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
