import ModelGraph
import TensorCore

/// Accuracy as a function of sparsity: each prunable layer pruned alone, then all of them per layer and globally,
/// at each step (Distiller's sensitivity analysis: every point prunes a fresh copy of the model).
public struct SensitivityReport: Codable, Sendable {
    public struct Point: Codable, Sendable, Hashable {
        /// The amount asked for (a fraction of the layer, or of all chosen layers for global).
        public var amount: Double
        /// Accuracy of the model with that pruning applied.
        public var accuracy: Double
    }

    public struct Curve: Codable, Sendable {
        /// A parameter tensor name, or `global`.
        public var target: String
        public var points: [Point]
    }

    /// Accuracy of the unpruned model.
    public var baseline: Double
    public var steps: [Double]
    /// One curve per chosen parameter (pruned alone), then `per-layer` (all of them, each by the
    /// amount) and `global` (all of them, one threshold).
    public var curves: [Curve]

    /// A plain-text table: one row per target, one column per step.
    public var table: String {
        let header = ["target"] + steps.map { String(format: "%.2f", $0) }
        var rows = [header, ["(dense)"] + steps.map { _ in String(format: "%.4f", baseline) }]
        for curve in curves {
            rows.append([curve.target] + curve.points.map { String(format: "%.4f", $0.accuracy) })
        }
        let widths = header.indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { c, cell in
                c == 0 ? cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                       : String(repeating: " ", count: widths[c] - cell.count) + cell
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

public enum SensitivityAnalysis {
    /// Prunes `parameters` one at a time, then all together (layer scope, then global scope) at each step, and measures
    /// each pruned copy with `evaluate` (accuracy on held-out data; the runtime supplies it).
    /// - Parameters:
    ///   - steps: fractions in [0, 1], validated like any `PruningAmount`.
    ///   - pruner: makes the pruner for an amount (default L1 unstructured).
    public static func run(_ package: ModelPackage, parameters: [String], steps: [Double],
                           pruner: (PruningAmount) -> any Pruner = { L1Unstructured(amount: $0) },
                           evaluate: (ModelPackage) throws -> Double) throws -> SensitivityReport {
        let amounts = try steps.map { try PruningAmount.fraction($0) }
        guard !parameters.isEmpty else { throw PruningError.noPrunableLayers(model: package.graph.name) }
        let baseline = try evaluate(package)
        var curves: [SensitivityReport.Curve] = []
        let targets: [(String, [String], PruningScope)] = parameters.map { ($0, [$0], .layer) }
            + [("per-layer", parameters, .layer), ("global", parameters, .global)]
        for (target, names, scope) in targets {
            let points = try zip(steps, amounts).map { step, amount in
                let pruned = try package.pruned(names, by: pruner(amount), scope: scope)
                return SensitivityReport.Point(amount: step, accuracy: try evaluate(pruned))
            }
            curves.append(SensitivityReport.Curve(target: target, points: points))
        }
        return SensitivityReport(baseline: baseline, steps: steps, curves: curves)
    }
}
