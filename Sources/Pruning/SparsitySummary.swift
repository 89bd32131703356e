import ModelGraph
import TensorCore

/// How sparse each parameter is: zeros among its values (pruned entries are zero) and its mask, if any.
public struct SparsitySummary: Codable, Sendable {
    public struct Entry: Codable, Sendable {
        public var name: String
        public var count: Int
        public var zeros: Int
        /// Entries the stored mask prunes (nil: no mask).
        public var masked: Int?
        public var sparsity: Double { count == 0 ? 0 : Double(zeros) / Double(count) }

        public init(name: String, count: Int, zeros: Int, masked: Int?) {
            self.name = name
            self.count = count
            self.zeros = zeros
            self.masked = masked
        }
    }

    public var entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    public var count: Int { entries.reduce(0) { $0 + $1.count } }
    public var zeros: Int { entries.reduce(0) { $0 + $1.zeros } }
    public var sparsity: Double { count == 0 ? 0 : Double(zeros) / Double(count) }

    /// The summary of `parameters` (default: every tensor that has a mask, else every linear/conv weight).
    public init(_ package: ModelPackage, parameters: [String]? = nil) {
        let names = parameters ?? (package.masks.isEmpty
            ? package.graph.nodes.filter(\.op.hasWeightMatrix).compactMap { $0.params["weight"] }
            : package.masks.names)
        entries = names.compactMap { name in
            guard let tensor = package.tensors[name] else { return nil }
            let masked = package.masks[name].map { $0.elementCount - MaskSet.keptCount($0) }
            return Entry(name: name, count: tensor.elementCount, zeros: tensor.zeroCount, masked: masked)
        }
    }
}
