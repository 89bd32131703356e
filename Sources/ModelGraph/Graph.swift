import Foundation
import HeapModule
import TensorCore

/// The model graph as described by model.json (DESIGN §3, normative).
///
/// After `init(json:)`/`validated()` the nodes are in a topological order (stable: among ready
/// nodes, the one listed first in the file comes first).
public struct Graph: Codable, Hashable, Sendable {
    public static let formatVersion = 1

    public var name: String
    public var inputs: [ValueInfo]
    public var outputs: [String]
    public var nodes: [Node]

    public init(name: String, inputs: [ValueInfo], outputs: [String], nodes: [Node]) {
        self.name = name
        self.inputs = inputs
        self.outputs = outputs
        self.nodes = nodes
    }

    enum CodingKeys: String, CodingKey { case modelsmith, name, inputs, outputs, nodes }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let version = try c.decodeIfPresent(Int.self, forKey: .modelsmith) ?? Graph.formatVersion
        guard version == Graph.formatVersion else { throw GraphError.unsupportedVersion(version) }
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? "model"
        inputs = try c.decode([ValueInfo].self, forKey: .inputs)
        outputs = try c.decode([String].self, forKey: .outputs)
        nodes = try c.decode([Node].self, forKey: .nodes)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Graph.formatVersion, forKey: .modelsmith)
        try c.encode(name, forKey: .name)
        try c.encode(inputs, forKey: .inputs)
        try c.encode(outputs, forKey: .outputs)
        try c.encode(nodes, forKey: .nodes)
    }

    /// Parses model.json bytes. Structural errors name the node; call `validate(against:)` for params.
    public init(json data: Data) throws {
        do {
            self = try JSONDecoder().decode(Graph.self, from: data)
        } catch let error as GraphError {
            throw error
        } catch let DecodingError.dataCorrupted(context) {
            throw GraphError.malformedJSON(context.debugDescription)
        } catch let DecodingError.keyNotFound(key, context) {
            throw GraphError.malformedJSON("missing key '\(key.stringValue)' at \(Graph.path(context.codingPath))")
        } catch let DecodingError.typeMismatch(_, context) {
            throw GraphError.malformedJSON("wrong type at \(Graph.path(context.codingPath)): \(context.debugDescription)")
        } catch let DecodingError.valueNotFound(_, context) {
            throw GraphError.malformedJSON("null at \(Graph.path(context.codingPath))")
        }
        try sortTopologically()
    }

    public func jsonData(pretty: Bool = true) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
        return try! encoder.encode(self)
    }

    private static func path(_ keys: [CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
    }

    /// Orders nodes so every input is produced before use; throws on dangling inputs, duplicate
    /// value names and cycles, naming the node.
    public mutating func sortTopologically() throws {
        var producer: [String: Int] = [:]
        producer.reserveCapacity(inputs.count + nodes.count)
        var seenNames = Set<String>(minimumCapacity: nodes.count)
        for input in inputs {
            guard producer[input.name] == nil else { throw GraphError.duplicateValue(input.name) }
            producer[input.name] = -1
        }
        for (i, node) in nodes.enumerated() {
            guard seenNames.insert(node.name).inserted else { throw GraphError.duplicateNode(node.name) }
            guard producer[node.output] == nil else { throw GraphError.duplicateValue(node.output) }
            producer[node.output] = i
        }
        // Every producer listed before its readers (none reading itself): the listing is the order.
        var alreadySorted = true
        for (i, node) in nodes.enumerated() {
            for input in node.inputs {
                guard let p = producer[input] else { throw GraphError.danglingInput(node: node.name, input: input) }
                if p >= i { alreadySorted = false }
            }
        }
        guard !outputs.isEmpty else { throw GraphError.noOutputs }
        for output in outputs where producer[output] == nil { throw GraphError.unknownOutput(output) }
        if alreadySorted { return }

        // Kahn's algorithm; the ready set is a min-heap of listing positions, so among ready nodes the
        // one listed first comes first (the documented stable order). O((nodes + edges) log nodes).
        var readers = [[Int]](repeating: [], count: nodes.count)
        var waiting = [Int](repeating: 0, count: nodes.count)
        for (i, node) in nodes.enumerated() {
            var producers: [Int] = []  // distinct producing nodes; a node has a handful of inputs
            for input in node.inputs {
                if let p = producer[input], p >= 0, !producers.contains(p) { producers.append(p) }
            }
            for p in producers { readers[p].append(i) }
            waiting[i] = producers.count
        }
        var ready = Heap(nodes.indices.filter { waiting[$0] == 0 })
        var order: [Node] = []
        order.reserveCapacity(nodes.count)
        while let next = ready.popMin() {
            order.append(nodes[next])
            for reader in readers[next] {
                waiting[reader] -= 1
                if waiting[reader] == 0 { ready.insert(reader) }
            }
        }
        guard order.count == nodes.count else {
            let stuck = nodes.indices.first { waiting[$0] > 0 }!
            throw GraphError.cycle(node: nodes[stuck].name)
        }
        nodes = order
    }

    /// One lookup by scanning the nodes; build an `index` once for repeated lookups.
    public func producer(of value: String) -> Node? { nodes.first { $0.output == value } }

    /// Nodes that read `value` (one scan; see `index`).
    public func consumers(of value: String) -> [Node] { nodes.filter { $0.inputs.contains(value) } }

    /// The node named `name` (one scan; see `index`).
    public func node(named name: String) -> Node? { nodes.first { $0.name == name } }

    /// Name → node and value → producer/consumers, built in one pass for callers that look up many.
    public var index: GraphIndex { GraphIndex(self) }

    /// Every tensor name a node references, in node order.
    public var referencedTensorNames: [String] {
        var seen = Set<String>()
        var names: [String] = []
        for node in nodes {
            for role in node.params.keys.sorted() {
                let name = node.params[role]!
                if seen.insert(name).inserted { names.append(name) }
            }
        }
        return names
    }
}

/// Lookups into one graph (as it was when the index was built), each in constant time.
public struct GraphIndex: Sendable {
    private let nodes: [Node]
    private let byName: [String: Int]
    private let byOutput: [String: Int]
    private let readers: [String: [Int]]

    public init(_ graph: Graph) {
        nodes = graph.nodes
        var byName: [String: Int] = [:], byOutput: [String: Int] = [:], readers: [String: [Int]] = [:]
        for (i, node) in graph.nodes.enumerated() {
            byName[node.name] = byName[node.name] ?? i
            byOutput[node.output] = byOutput[node.output] ?? i
            for input in Set(node.inputs) { readers[input, default: []].append(i) }
        }
        self.byName = byName
        self.byOutput = byOutput
        self.readers = readers
    }

    public func node(named name: String) -> Node? { byName[name].map { nodes[$0] } }
    public func producer(of value: String) -> Node? { byOutput[value].map { nodes[$0] } }
    /// In node order.
    public func consumers(of value: String) -> [Node] { readers[value, default: []].map { nodes[$0] } }
}
