import ModelFormats
import TensorCore

/// Which non-finite values a model may carry (docs/onnx.md, "Non-finite constants"): NaN nowhere;
/// ±Inf only in tensors that every reader takes as a plain `constant` value — the additive
/// attention masks real exports carry (`-inf` above the diagonal) — never in a param role
/// (weights, biases, normalisation statistics), where it would poison every output.
public enum NonFiniteRule {
    /// The tensors that break the rule, with their counts, in the map's order. `graph` nil: every
    /// tensor is held to the weight rule (no graph says how it is used).
    public static func refused(_ tensors: TensorMap, graph: Graph?) -> [(name: String, count: NonFiniteCount)] {
        let constantsOnly = graph.map(constantValueTensors) ?? []
        return NonFiniteScan.scan(tensors).filter { $0.count.nan > 0 || !constantsOnly.contains($0.name) }
    }

    /// Tensors that only `constant` nodes reference.
    static func constantValueTensors(_ graph: Graph) -> Set<String> {
        var constant = Set<String>(), other = Set<String>()
        for node in graph.nodes {
            for (role, name) in node.params {
                if node.op == .constant && role == "value" { constant.insert(name) } else { other.insert(name) }
            }
        }
        return constant.subtracting(other)
    }
}

extension ModelPackage {
    /// `NonFiniteRule.refused` for this package's tensors and graph.
    public var refusedNonFiniteTensors: [(name: String, count: NonFiniteCount)] { NonFiniteRule.refused(tensors, graph: graph) }
}
