import ModelGraph
import ModelRuntime
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
    /// What the layer runs as on the quantizing host: `int8 (product)` or `fp32 (reason)`
    /// (`Session.int8Placement`), so the report never says INT8 for a layer that runs FP32.
    public var runsAs: String?

    enum CodingKeys: String, CodingKey {
        case node, input, status, reason, rangeMin = "range_min", rangeMax = "range_max", scale,
             zeroPoint = "zero_point", activationType = "activation_dtype", clippedFraction = "clipped_fraction",
             activationSQNR = "activation_sqnr_db", weightSQNR = "weight_sqnr_db", weightScaleMin = "weight_scale_min",
             weightScaleMax = "weight_scale_max", accuracyCost = "accuracy_cost", runsAs = "runs_as"
    }
}

extension LayerReport {
    /// Fills `runsAs` of each layer from a session of the quantized package at batch 1.
    public static func recordPlacement(_ layers: inout [LayerReport], quantized: ModelPackage) throws {
        let session = try Session(package: quantized, options: SessionOptions(maxBatch: 1))
        let placement = Dictionary(try session.int8Placement(batch: 1).map { ($0.node, $0.runsAs) }, uniquingKeysWith: { first, _ in first })
        for i in layers.indices { layers[i].runsAs = placement[layers[i].node] ?? "fp32 (\(layers[i].status.rawValue))" }
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
