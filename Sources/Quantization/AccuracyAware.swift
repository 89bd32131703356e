import ModelGraph
import ModelRuntime
import TensorCore

/// Accuracy-aware quantization (`--eval`, `--max-accuracy-drop`): rank layers by the accuracy they
/// cost when quantized alone, then return the most harmful to FP32 one at a time until the drop
/// from FP32 is within budget.
public enum AccuracyAware {
    public struct Outcome: Sendable {
        public var package: ModelPackage
        public var layers: [LayerReport]
        public var accuracyBefore: Double
        public var accuracyAfter: Double
        /// False when even the least harmful single layer drops more than the budget.
        public var withinBudget: Bool
    }

    /// `maxDrop` is in percentage points (0.5 = half a point).
    public static func quantize(_ package: ModelPackage, statistics: [String: Histogram], method: CalibrationMethod,
                                scheme: QuantScheme, exclude: Set<String>, eval: Dataset, maxDrop: Double,
                                options: SessionOptions = SessionOptions()) throws -> Outcome {
        let before = try Evaluation.accuracy(session: Session(package: package, options: options), dataset: eval)
        let candidates = Quantizer.quantizableNodes(package.graph).map(\.name).filter { !exclude.contains($0) }
        var cost: [String: Double] = [:]
        for layer in candidates {
            let others = Set(candidates).subtracting([layer]).union(exclude)
            let (alone, _) = try Quantizer.quantize(package, statistics: statistics, method: method, scheme: scheme, exclude: others)
            cost[layer] = before - (try Evaluation.accuracy(session: Session(package: alone, options: options), dataset: eval))
        }
        var fallback: [String: String] = [:]
        var ranked = candidates.sorted { (cost[$0]!, $1) > (cost[$1]!, $0) }  // most harmful first, stable by name
        while true {
            let (q, layersQuantized) = try Quantizer.quantize(package, statistics: statistics, method: method, scheme: scheme,
                                                     exclude: exclude, fallback: fallback)
            var layers = layersQuantized
            let after = try Evaluation.accuracy(session: Session(package: q, options: options), dataset: eval)
            for i in layers.indices { layers[i].accuracyCost = cost[layers[i].node] }
            let within = (before - after) * 100 <= maxDrop + 1e-9
            if within || ranked.count <= 1 {
                return Outcome(package: q, layers: layers, accuracyBefore: before, accuracyAfter: after, withinBudget: within)
            }
            let worst = ranked.removeFirst()
            fallback[worst] = String(format: "accuracy fallback: costs %.2f points when quantized alone", cost[worst]! * 100)
        }
    }
}
