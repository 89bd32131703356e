import Foundation
import ModelFormats
import ONNXProto
import TensorCore

/// Builds a `Graph` and its tensors from a decoded ONNX model (docs/onnx.md): checks the graph as
/// ONNX's IR requires, then walks the nodes in topological order, folding what is known at import
/// and translating the rest (`ONNXGraphBuilder+Ops.swift`).
final class ONNXGraphBuilder {
    let opset: Int
    let limits: ReadLimits
    let options: ONNXImport.Options
    let external: ONNXExternalData?

    /// The package's tensors: params and `constant` values the graph references, by name.
    var tensors = TensorMap()
    /// Initializers by ONNX value name (converted lazily: most are weights and become params).
    var initializers: [String: Onnx_TensorProto] = [:]
    /// Initializers converted so far, and `Constant` values too large to fold.
    var converted: [String: Tensor] = [:]
    /// Values known at import that are not initializers (`Constant` outputs, folded subgraphs).
    var folded: [String: Folded] = [:]
    /// Values computed at run time: graph inputs and node outputs.
    var runtime = Set<String>()
    var nodes: [Node] = []
    var inputs: [ValueInfo] = []
    var nodeNames = Set<String>()
    /// Known values already emitted as `constant` nodes.
    var constantNodes = Set<String>()
    /// Whether dim 0 of every runtime value is the dynamic batch.
    var dynamicBatch = false
    private var shapeCache: (nodeCount: Int, shapes: [String: Shape])?

    private init(opset: Int, url: URL?, limits: ReadLimits, options: ONNXImport.Options) {
        self.opset = opset
        self.limits = limits
        self.options = options
        external = url.map { ONNXExternalData(modelURL: $0, limits: limits) }
    }

    static func build(_ model: Onnx_ModelProto, url: URL?, limits: ReadLimits, options: ONNXImport.Options) throws -> (Graph, TensorMap) {
        let opset = try ONNXImport.defaultOpset(model)
        guard model.hasGraph else { throw GraphError.malformedONNX("the model has no graph") }
        let builder = ONNXGraphBuilder(opset: opset, url: url, limits: limits, options: options)
        return try builder.build(model.graph, model: model)
    }

    private func build(_ graph: Onnx_GraphProto, model: Onnx_ModelProto) throws -> (Graph, TensorMap) {
        let names = try nodeNames(graph.node)
        // An op the importer cannot take is the first thing to report, before dtypes and shapes.
        for (node, name) in zip(graph.node, names) where node.domain.isEmpty || node.domain == "ai.onnx" {
            guard NodeTranslation.isSupported(node.opType) else { throw GraphError.unsupportedONNXOp(node: name, op: node.opType, opset: opset) }
        }
        for (node, name) in zip(graph.node, names) where !(node.domain.isEmpty || node.domain == "ai.onnx") {
            throw GraphError.unsupportedONNXOp(node: name, op: "\(node.domain).\(node.opType)", opset: opset)
        }
        guard ONNXImport.supportedOpsets.contains(opset) else {
            throw GraphError.unsupportedONNX("the model imports opset \(opset); this version reads opsets \(ONNXImport.supportedOpsets.lowerBound)–\(ONNXImport.supportedOpsets.upperBound)")
        }
        guard graph.initializer.count <= limits.maxTensors else {
            throw GraphError.malformedONNX("\(graph.initializer.count) initializers exceed the limit of \(limits.maxTensors) tensors")
        }
        var defined = Set<String>()
        func define(_ name: String, _ what: String) throws {
            guard !name.isEmpty else { throw GraphError.malformedONNX("\(what) has an empty name") }
            guard defined.insert(name).inserted else { throw GraphError.malformedONNX("value '\(name)' is defined twice (\(what))") }
        }
        for initializer in graph.initializer {
            try define(initializer.name, "an initializer")
            initializers[initializer.name] = initializer
        }
        for input in graph.input where initializers[input.name] == nil {
            try define(input.name, "graph input '\(input.name)'")
            inputs.append(try valueInfo(input))
            runtime.insert(input.name)
        }
        guard !inputs.isEmpty else { throw GraphError.malformedONNX("the graph has no inputs") }
        dynamicBatch = inputs.contains { $0.shape.first == -1 }

        for (node, name) in zip(graph.node, names) {
            for output in node.output where !output.isEmpty { try define(output, "an output of node '\(name)'") }
        }
        for (node, name) in zip(graph.node, names) {
            for input in node.input where !input.isEmpty && !defined.contains(input) {
                throw GraphError.danglingInput(node: name, input: input)
            }
        }
        for order in try topologicalOrder(graph.node, names: names) {
            try translate(graph.node[order], name: names[order])
        }

        var outputs: [String] = []
        for output in graph.output {
            guard defined.contains(output.name) else { throw GraphError.unknownOutput(output.name) }
            if !runtime.contains(output.name) {
                guard isKnown(output.name) else {
                    throw GraphError.unsupportedONNX("graph output '\(output.name)' is an extra output of a node (nodes with several outputs are not supported yet)")
                }
                // A graph output known at import: `constant` values have no batch dimension.
                throw GraphError.unsupportedONNX("graph output '\(output.name)' is a constant")
            }
            if inputs.contains(where: { $0.name == output.name }) {
                throw GraphError.unsupportedONNX("graph output '\(output.name)' is a graph input")
            }
            outputs.append(output.name)
        }
        guard !outputs.isEmpty else { throw GraphError.malformedONNX("the graph has no outputs") }
        let name = graph.name.isEmpty ? "model" : graph.name
        var result = Graph(name: name, inputs: inputs, outputs: outputs, nodes: pruned(nodes, outputs: outputs))
        try result.sortTopologically()
        var used = TensorMap()
        for tensorName in result.referencedTensorNames { used[tensorName] = tensors[tensorName] }
        try result.validate(tensors: used)
        return (result, used)
    }

    /// Nodes no graph output depends on are dropped (the mask branch of a folded `Where`, say).
    private func pruned(_ nodes: [Node], outputs: [String]) -> [Node] {
        var needed = Set(outputs)
        var kept: [Node] = []
        for node in nodes.reversed() where needed.contains(node.output) {
            kept.append(node)
            needed.formUnion(node.inputs)
        }
        return kept.reversed()
    }

    /// Node names: ONNX's where given (each at most once), `OpType_index` where empty.
    private func nodeNames(_ nodes: [Onnx_NodeProto]) throws -> [String] {
        var names: [String] = []
        var seen = Set<String>()
        for node in nodes where !node.name.isEmpty {
            guard seen.insert(node.name).inserted else { throw GraphError.duplicateNode(node.name) }
        }
        for (i, node) in nodes.enumerated() {
            var name = node.name.isEmpty ? "\(node.opType)_\(i)" : node.name
            while node.name.isEmpty && seen.contains(name) { name += "_" }
            if node.name.isEmpty { seen.insert(name) }
            names.append(name)
        }
        return names
    }

    /// Kahn's order, stable in file order; a cycle names one of its nodes.
    private func topologicalOrder(_ nodes: [Onnx_NodeProto], names: [String]) throws -> [Int] {
        var producer: [String: Int] = [:]
        for (i, node) in nodes.enumerated() { for output in node.output where !output.isEmpty { producer[output] = i } }
        var waiting = nodes.map { node in Set(node.input.compactMap { producer[$0] }) }
        var consumers = [[Int]](repeating: [], count: nodes.count)
        for (i, deps) in waiting.enumerated() { for d in deps { consumers[d].append(i) } }
        var ready = waiting.indices.filter { waiting[$0].isEmpty }
        var order: [Int] = []
        while !ready.isEmpty {
            ready.sort()
            let next = ready.removeFirst()
            order.append(next)
            for c in consumers[next] {
                waiting[c].remove(next)
                if waiting[c].isEmpty { ready.append(c) }
            }
        }
        guard order.count == nodes.count else {
            let stuck = nodes.indices.first { !order.contains($0) }!
            throw GraphError.cycle(node: names[stuck])
        }
        return order
    }

    /// A graph input: dim 0 symbolic (or unknown) is the batch; other symbolic dims take their
    /// size from `Options.dims`.
    private func valueInfo(_ input: Onnx_ValueInfoProto) throws -> ValueInfo {
        guard case .tensorType(let type)? = input.type.value else {
            throw GraphError.unsupportedONNX("graph input '\(input.name)' is not a tensor")
        }
        guard let dtype = ONNXTensor.dtype(type.elemType) else {
            throw GraphError.unsupportedONNX("graph input '\(input.name)' has element type \(ONNXTensor.typeName(type.elemType))")
        }
        guard type.hasShape else { throw GraphError.unsupportedONNX("graph input '\(input.name)' has no shape") }
        guard type.shape.dim.count <= limits.maxRank else {
            throw GraphError.malformedONNX("graph input '\(input.name)' has rank \(type.shape.dim.count), more than the limit \(limits.maxRank)")
        }
        var shape: [Int] = []
        for (d, dim) in type.shape.dim.enumerated() {
            switch dim.value {
            case .dimValue(let size)?:
                guard size >= 1, let size = Int(exactly: size) else {
                    throw GraphError.malformedONNX("graph input '\(input.name)' dim \(d) has size \(size)")
                }
                shape.append(size)
            case .dimParam(let name)? where d > 0:
                guard let size = options.dims[name] else {
                    throw GraphError.unsupportedONNX("graph input '\(input.name)' dim \(d) is symbolic ('\(name)'); give its size with --dim \(name)=N")
                }
                shape.append(size)
            case .dimParam?, nil:
                guard d == 0 else { throw GraphError.unsupportedONNX("graph input '\(input.name)' dim \(d) has no size") }
                shape.append(-1)
            }
        }
        guard checkedProduct(shape.map { Swift.max($0, 1) }) != nil else {
            throw GraphError.malformedONNX("graph input '\(input.name)': dims \(shape) overflow")
        }
        return ValueInfo(name: input.name, shape: shape, dtype: dtype)
    }

    // MARK: values

    /// The initializer `name` as a tensor (converted once).
    func initializerTensor(_ name: String) throws -> Tensor? {
        if let tensor = converted[name] { return tensor }
        guard let proto = initializers[name] else { return nil }
        let tensor = try ONNXTensor.tensor(proto, what: "initializer '\(name)'", limits: limits, external: external)
        converted[name] = tensor
        return tensor
    }

    /// A value known at import, as a tensor (nil for runtime values and batch-dependent vectors).
    func knownTensor(_ name: String) throws -> Tensor? {
        if let tensor = try initializerTensor(name) { return tensor }
        return folded[name]?.tensor
    }

    func isKnown(_ name: String) -> Bool { initializers[name] != nil || folded[name] != nil || converted[name] != nil }

    /// A known value for folding (small ones only).
    func foldedValue(_ name: String) throws -> Folded? {
        if let value = folded[name] { return value }
        guard let proto = initializers[name], proto.dims.reduce(1, { $0 &* Swift.max($1, 0) }) <= Int64(Folded.maxElements) else { return nil }
        return try initializerTensor(name).flatMap { Folded($0) }
    }

    /// Adds `tensor` to the package as `name` (or `name` with a suffix if that name holds other bytes).
    func addTensor(_ tensor: Tensor, name: String) -> String {
        var candidate = name
        var n = 1
        while let existing = tensors[candidate] {
            if existing.bitwiseEqual(tensor) { return candidate }
            candidate = "\(name).\(n)"
            n += 1
        }
        tensors[candidate] = tensor
        return candidate
    }

    /// The name to use for `value` as a node input: a runtime value as it is; a known value
    /// through a `constant` node (emitted once).
    func input(_ value: String, node: String) throws -> String {
        if runtime.contains(value) { return value }
        guard !constantNodes.contains(value) else { return value }
        guard var tensor = try knownTensor(value) else {
            throw GraphError.unsupportedONNX("node '\(node)': input '\(value)' depends on the batch size in a way the importer cannot fold")
        }
        // Values are held as f32 (integer ids and masks too; docs/ops.md, "Values").
        if !tensor.dtype.isFloatingPoint { tensor = tensor.toF32() }
        let tensorName = addTensor(tensor, name: value)
        try emit("constant", name: uniqueNodeName("constant:\(value)"), onnxOp: "Constant", inputs: [], output: value, params: ["value": tensorName])
        constantNodes.insert(value)
        runtime.insert(value)
        return value
    }

    func uniqueNodeName(_ base: String) -> String {
        var name = base
        while nodeNames.contains(name) { name += "_" }
        return name
    }

    /// Appends a node of ModelSmith op `op`; an op the vocabulary does not have yet is refused
    /// with the ONNX op type and opset.
    func emit(_ op: String, name: String, onnxOp: String, inputs: [String], output: String,
              params: [String: String] = [:], attrs: [String: JSONValue] = [:]) throws {
        guard let kind = OpKind(rawValue: op) else {
            throw GraphError.unsupportedONNXOp(node: name, op: onnxOp, opset: opset)
        }
        nodeNames.insert(name)
        nodes.append(Node(name: name, op: kind, inputs: inputs, output: output, params: params, attrs: attrs))
        runtime.insert(output)
    }

    /// The shape of a runtime value (dim 0 taken at batch 1), from the nodes translated so far.
    func shape(of value: String) throws -> Shape {
        if shapeCache?.nodeCount != nodes.count {
            // A graph needs an output to sort (Graph.sortTopologically); any produced value will do.
            let partial = Graph(name: "import", inputs: inputs, outputs: nodes.last.map { [$0.output] } ?? inputs.map(\.name), nodes: nodes)
            shapeCache = (nodes.count, try partial.inferShapes(batch: 1, tensors: tensors))
        }
        guard let shape = shapeCache?.shapes[value] else {
            throw GraphError.malformedONNX("the shape of value '\(value)' is unknown")
        }
        return shape
    }
}
