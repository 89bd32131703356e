import ModelGraph
import TensorCore

/// Which parameter tensors to prune (`--layers` / `--exclude`).
///
/// By default: the `weight` of every `linear` and `conv2d` node. A name in `layers` or `exclude`
/// is either a node name (`fc1`, meaning its weight) or a parameter tensor name (`fc1.bias`);
/// biases and other parameters are pruned only when named that way.
public struct ParameterSelection: Hashable, Sendable {
    public var layers: [String]
    public var exclude: [String]

    public init(layers: [String] = [], exclude: [String] = []) {
        self.layers = layers
        self.exclude = exclude
    }

    /// The chosen parameter tensor names, in graph order (which fixes global ranking ties).
    /// - Throws: `unknownLayer` for a name the graph does not know, `noPrunableLayers` when nothing is left.
    public func resolve(in graph: Graph) throws -> [String] {
        let prunableLayers = graph.nodes.filter { $0.op.hasWeightMatrix && $0.params["weight"] != nil }
        let defaults = prunableLayers.compactMap { $0.params["weight"] }
        let allParameters = graph.referencedTensorNames
        func parameter(for name: String) throws -> String {
            if let node = prunableLayers.first(where: { $0.name == name }), let weight = node.params["weight"] { return weight }
            if allParameters.contains(name) { return name }
            throw PruningError.unknownLayer(name, available: prunableLayers.map(\.name))
        }
        let chosen = layers.isEmpty ? Set(defaults) : Set(try layers.map(parameter))
        let excluded = Set(try exclude.map(parameter))
        let result = allParameters.filter { chosen.contains($0) && !excluded.contains($0) }
        guard !result.isEmpty else { throw PruningError.noPrunableLayers(model: graph.name) }
        return result
    }
}
