import Foundation
import ModelGraph
import ModelRuntime
import TensorCore

/// Accuracy-aware quantization (`--eval`, `--max-accuracy-drop`, docs/quantization.md
/// "Accuracy-aware mode"): measure once what each layer costs when quantized alone, rank the
/// layers by it, then search for the fewest most-harmful layers to keep in FP32 so that the drop
/// from FP32 is within budget. Layers that share a weight tensor are one decision.
public enum AccuracyAware {
    public struct Outcome: Sendable {
        public var package: ModelPackage
        public var layers: [LayerReport]
        public var accuracyBefore: Double
        public var accuracyAfter: Double
        /// False when no configuration found is within the budget.
        public var withinBudget: Bool
        /// The time budget ran out: the outcome is the best configuration evaluated by then.
        public var timedOut: Bool
        /// Evaluations of the whole eval set, FP32 baseline included.
        public var evaluations: Int
    }

    /// Where the search is, for a progress line.
    public struct Progress: Sendable {
        public enum Phase: String, Sendable { case baseline, sensitivity, search }
        public var phase: Phase
        /// Evaluations done and planned in this phase (the search's total is an upper bound).
        public var done: Int
        public var total: Int
        public var elapsed: Double
    }

    /// `maxDrop` is in percentage points (0.5 = half a point); `maxSeconds` bounds the wall-clock
    /// time (checked between evaluations).
    public static func quantize(_ package: ModelPackage, statistics: [String: Histogram], method: CalibrationMethod,
                                scheme: QuantScheme, exclude: Set<String>, eval: Dataset, maxDrop: Double,
                                maxSeconds: Double? = nil, options: SessionOptions = SessionOptions(),
                                progress: (Progress) -> Void = { _ in }) throws -> Outcome {
        let start = Date()
        var evaluations = 0
        func elapsed() -> Double { Date().timeIntervalSince(start) }
        func outOfTime() -> Bool { maxSeconds.map { elapsed() >= $0 } ?? false }
        func accuracy(_ candidate: ModelPackage) throws -> Double {
            evaluations += 1
            return try Evaluation.accuracy(session: Session(package: candidate, options: options), dataset: eval)
        }
        func quantize(keepingFP32 kept: Set<String>, fallback: [String: String] = [:]) throws -> (ModelPackage, [LayerReport]) {
            try Quantizer.quantize(package, statistics: statistics, method: method, scheme: scheme,
                                   exclude: exclude.union(kept), fallback: fallback)
        }

        progress(Progress(phase: .baseline, done: 0, total: 1, elapsed: 0))
        let before = try accuracy(package)
        let groups = tiedGroups(package.graph, exclude: exclude)
        let everyLayer = Set(groups.joined())

        // 1. Sensitivity, once: each group alone in INT8. Unmeasured groups (out of time) rank as
        // most harmful, so they stay FP32 unless the search reaches them.
        var cost = [Double](repeating: .infinity, count: groups.count)
        for (i, group) in groups.enumerated() {
            if outOfTime() { break }
            progress(Progress(phase: .sensitivity, done: i, total: groups.count, elapsed: elapsed()))
            let (alone, _) = try quantize(keepingFP32: everyLayer.subtracting(group))
            cost[i] = before - (try accuracy(alone))
        }
        let ranked = groups.indices.sorted { (cost[$0], groups[$1][0]) > (cost[$1], groups[$0][0]) }  // most harmful first
        func fallback(first count: Int) -> [String: String] {
            var reasons: [String: String] = [:]
            for g in ranked.prefix(count) {
                let what = cost[g].isFinite ? String(format: "costs %.2f points when quantized alone", cost[g] * 100) : "not measured in the time budget"
                for node in groups[g] { reasons[node] = "accuracy fallback: " + what + (groups[g].count > 1 ? " (shares its weight)" : "") }
            }
            return reasons
        }

        // 2. Search: the fewest most-harmful groups in FP32 whose configuration is within budget,
        // by bisection on that count (the drop is taken to shrink as more groups return to FP32).
        // At least one group stays INT8. Every evaluated configuration is remembered: the result
        // is the best within budget, else the most accurate.
        var evaluated: [Int: Double] = [:]
        let most = Swift.max(0, groups.count - 1)
        let searchTotal = 2 + Int(log2(Double(Swift.max(most, 1))).rounded(.up))
        func within(_ count: Int) throws -> Bool {
            if let known = evaluated[count] { return (before - known) * 100 <= maxDrop + 1e-9 }
            progress(Progress(phase: .search, done: evaluated.count, total: searchTotal, elapsed: elapsed()))
            let (q, _) = try quantize(keepingFP32: Set(ranked.prefix(count).flatMap { groups[$0] }))
            evaluated[count] = try accuracy(q)
            return (before - evaluated[count]!) * 100 <= maxDrop + 1e-9
        }
        var timedOut = outOfTime()
        if !timedOut, try !within(0), !outOfTime(), try within(most) {
            var (fails, holds) = (0, most)  // within(fails) is false, within(holds) true
            while holds - fails > 1 {
                if outOfTime() { break }
                let middle = (fails + holds) / 2
                if try within(middle) { holds = middle } else { fails = middle }
            }
        }
        timedOut = timedOut || outOfTime()

        let passing = evaluated.filter { (before - $0.value) * 100 <= maxDrop + 1e-9 }
        let chosen = passing.keys.min() ?? evaluated.max { ($0.value, -$0.key) < ($1.value, -$1.key) }?.key ?? most
        let (q, quantizedLayers) = try quantize(keepingFP32: [], fallback: fallback(first: chosen))
        let after = try evaluated[chosen] ?? accuracy(q)
        var layers = quantizedLayers
        let costOf = Dictionary(uniqueKeysWithValues: groups.indices.flatMap { g in groups[g].map { ($0, cost[g]) } })
        for i in layers.indices { layers[i].accuracyCost = costOf[layers[i].node].flatMap { $0.isFinite ? $0 : nil } }
        return Outcome(package: q, layers: layers, accuracyBefore: before, accuracyAfter: after,
                       withinBudget: !passing.isEmpty, timedOut: timedOut, evaluations: evaluations)
    }

    /// The quantizable layers not excluded, grouped by weight tensor (tied weights are one group),
    /// in graph order.
    static func tiedGroups(_ graph: Graph, exclude: Set<String>) -> [[String]] {
        var groups: [[String]] = []
        var groupOfWeight: [String: Int] = [:]
        for node in Quantizer.quantizableNodes(graph) where !exclude.contains(node.name) {
            let weight = node.params["weight"] ?? node.name
            if let g = groupOfWeight[weight] {
                groups[g].append(node.name)
            } else {
                groupOfWeight[weight] = groups.count
                groups.append([node.name])
            }
        }
        return groups
    }
}
