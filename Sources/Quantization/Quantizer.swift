import Foundation
import ModelFormats
import ModelGraph
import TensorCore

/// The INT8 rewrite (docs/quantization.md, "Quantized graph"): every linear/conv2d node not excluded
/// keeps its op; its `weight` becomes `i8` with symmetric `QuantParams` (per output channel, axis 0,
/// or per tensor); its `bias` stays f32; `attrs["input_quant"] = {"scale", "zero_point", "dtype"}`
/// says how its input activation is quantized.
public enum Quantizer {
    /// Nodes the rewrite applies to, in graph order.
    public static func quantizableNodes(_ graph: Graph) -> [Node] { graph.nodes.filter { $0.op.hasWeightMatrix } }

    /// The activation values that need statistics: the inputs of quantizable nodes.
    public static func calibratedValues(_ graph: Graph) -> [String] {
        var seen = Set<String>()
        return quantizableNodes(graph).compactMap { seen.insert($0.inputs[0]).inserted ? $0.inputs[0] : nil }
    }

    /// Throws if a weight of a linear/conv2d is already int8.
    public static func checkNotQuantized(_ package: ModelPackage) throws {
        for node in quantizableNodes(package.graph) {
            if let name = node.params["weight"], let t = package.tensors[name], t.dtype == .i8 || t.quant != nil {
                throw QuantizationError.alreadyQuantized(tensor: name)
            }
        }
    }

    /// Checks `--exclude` names against the graph's quantizable nodes.
    public static func checkExcludes(_ exclude: Set<String>, in graph: Graph) throws {
        let names = Set(quantizableNodes(graph).map(\.name))
        for name in exclude.sorted() where !names.contains(name) { throw QuantizationError.unknownExclude(name) }
    }

    /// Returns the quantized package and one report per quantizable node (excluded ones included).
    ///
    /// - Parameters:
    ///   - statistics: histogram per activation value (`calibratedValues`).
    ///   - exclude: nodes that stay FP32 (`--exclude`); `fallback` likewise, reported as accuracy fallbacks.
    public static func quantize(_ package: ModelPackage, statistics: [String: Histogram], method: CalibrationMethod,
                                scheme: QuantScheme, exclude: Set<String> = [], fallback: [String: String] = [:])
        throws -> (package: ModelPackage, layers: [LayerReport]) {
        try checkNotQuantized(package)
        try checkExcludes(exclude, in: package.graph)
        var out = package
        var layers: [LayerReport] = []
        // Per weight tensor: the first node using it, and whether that node is quantized.
        var quantizedWeights: [String: (node: String, quantized: Bool)] = [:]
        for (index, node) in package.graph.nodes.enumerated() where node.op.hasWeightMatrix {
            let input = node.inputs[0]
            guard let histogram = statistics[input] else { throw QuantizationError.missingRange(node: node.name, value: input) }
            guard let weightName = node.params["weight"], let weight = package.tensors[weightName] else {
                throw QuantizationError.badWeight(node: node.name, reason: "has no weight tensor")
            }
            guard weight.floats.allSatisfy(\.isFinite) else {
                throw QuantizationError.badWeight(node: node.name, reason: "weight '\(weightName)' holds NaN or Inf; it has no INT8 scale")
            }
            let stays: LayerReport.Status? = exclude.contains(node.name) ? .excluded : fallback[node.name] != nil ? .fallback : nil
            if let previous = quantizedWeights[weightName], previous.quantized != (stays == nil) {
                let (quantized, kept) = previous.quantized ? (previous.node, node.name) : (node.name, previous.node)
                throw QuantizationError.sharedWeight(tensor: weightName, quantizedNode: quantized, keptNode: kept)
            }
            quantizedWeights[weightName] = quantizedWeights[weightName] ?? (node.name, stays == nil)

            let range = method.range(from: histogram, levels: scheme.activationLevels)
            let (scale, zeroPoint) = scheme.activationParameters(min: range.min, max: range.max)
            let qWeight = scheme.quantizeWeight(weight)
            var report = LayerReport(
                node: node.name, input: input, status: stays ?? .int8,
                reason: stays == .excluded ? "--exclude" : fallback[node.name],
                rangeMin: range.min, rangeMax: range.max, scale: scale, zeroPoint: zeroPoint,
                activationType: scheme.activationType.rawValue,
                clippedFraction: histogram.fractionOutside(min: range.min, max: range.max),
                activationSQNR: decibels(signal: histogram.meanSquare(),
                                         noise: histogram.expectedSquaredError(min: range.min, max: range.max, levels: scheme.activationLevels)),
                weightSQNR: weightSQNR(weight, qWeight),
                weightScaleMin: qWeight.quant!.scales.min()!, weightScaleMax: qWeight.quant!.scales.max()!)
            report.accuracyCost = nil
            layers.append(report)
            guard stays == nil else { continue }
            out.tensors[weightName] = qWeight
            out.graph.nodes[index].attrs["input_quant"] = [
                "scale": .float(scale), "zero_point": .number(Double(zeroPoint)),
                "dtype": .string(scheme.activationType.rawValue),
            ]
        }
        guard layers.contains(where: { $0.status == .int8 }) else { throw QuantizationError.nothingToQuantize }
        return (out, layers)
    }

    /// The provenance step recorded in the artifact (`inspect` shows it).
    public static func provenanceStep(method: CalibrationMethod, scheme: QuantScheme, samples: Int, dataDigest: String,
                                      layers: [LayerReport], accuracy: (before: Double, after: Double)? = nil) -> ProvenanceStep {
        var options: [String: JSONValue] = [
            "method": .string(method.name),
            "variant": method == .entropy ? .string(EntropyObserver.variant) : .null,
            "weights": .string(scheme.perChannelWeights ? "per_channel_symmetric" : "per_tensor_symmetric"),
            "weight_bits": .number(Double(scheme.weightBits)),
            "activations": .string(scheme.activationType == .u8 ? "per_tensor_asymmetric_u8" : "per_tensor_symmetric_i8"),
            "calibration_samples": .number(Double(samples)),
            "calibration_digest": .string(dataDigest),
            "exclude": .array(layers.filter { $0.status == .excluded }.map { .string($0.node) }),
        ]
        for (key, value) in method.parameters { options[key] = .number(value) }
        var results: [String: JSONValue] = [
            "layers": .object(Dictionary(uniqueKeysWithValues: layers.map { layer in
                (layer.node, .object([
                    "status": .string(layer.status.rawValue),
                    "range": .array([.float(layer.rangeMin), .float(layer.rangeMax)]),
                    "scale": .float(layer.scale), "zero_point": .number(Double(layer.zeroPoint)),
                    "clipped_fraction": .number(layer.clippedFraction),
                    "reason": layer.reason.map { .string($0) } ?? .null,
                ]))
            })),
            "fp32_layers": .array(layers.filter { $0.status != .int8 }.map { .string($0.node) }),
        ]
        if let accuracy {
            results["accuracy_before"] = .number(accuracy.before)
            results["accuracy_after"] = .number(accuracy.after)
        }
        return ProvenanceStep(step: "quantize", options: options, results: results)
    }

    /// 10·log10(Σw² / Σ(w − s·q)²) of a weight and its symmetric quantization (no dequantized copy).
    private static func weightSQNR(_ weight: Tensor, _ quantized: Tensor) -> Double {
        let source = weight.dtype == .f32 ? weight : weight.toF32()
        let scales = quantized.quant!.scales
        let inner = source.elementCount / scales.count
        // Eight partial sums (SIMD lanes) so the additions do not form one long dependency chain.
        var signal = SIMD8<Double>(), noise = SIMD8<Double>()
        source.withUnsafeBufferPointer(of: Float.self) { w in
            quantized.withUnsafeBufferPointer(of: Int8.self) { q in
                for c in scales.indices {
                    let scale = scales[c]
                    for i in (c * inner)..<((c + 1) * inner) {
                        let x = Double(w[i]), d = x - Double(scale * Float(q[i]))
                        signal[i & 7] += x * x
                        noise[i & 7] += d * d
                    }
                }
            }
        }
        return decibels(signal: signal.sum(), noise: noise.sum())
    }
}
