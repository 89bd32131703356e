import Foundation
import Kernels
import ModelFormats
import ModelGraph
import TensorCore

/// What `inspect` reports about a package: per node shapes and parameter sizes, unused tensors,
/// the artifact's stored encodings, provenance and totals. Built once, printed as a table or JSON.
struct ModelSummary {
    struct NodeRow {
        var node: Node
        var inputShapes: [String]
        var outputShape: String
        var inputShapesJSON: [JSONValue]
        var outputShapeJSON: JSONValue
        var parameters: Int
        var bytes: Int
        var dtype: String?
        var sparsity: Double?
    }

    /// How an artifact stores one tensor.
    struct StoredTensor {
        var name: String
        var role: String
        var encoding: String
        var storedBytes: Int
        var decodedBytes: Int
    }

    var name: String
    var path: String
    var inputs: [ValueInfo]
    var outputs: [String]
    var nodes: [NodeRow] = []
    var tensors: TensorMap
    var masks: TensorMap
    var usedBy: [String: [String]] = [:]
    var stored: [StoredTensor] = []
    /// The product each INT8 node runs at batch 1 on this CPU (`Session.int8Kernels`), and the CPU.
    var int8Kernels: [(node: String, kernel: String)] = []
    var provenance: Provenance
    /// For an `.onnx` input: its header and declared inputs/outputs with symbolic dims named.
    var onnx: ONNXSummary?
    var bytesOnDisk: Int
    /// Fraction of zeros over the weights of every linear and conv2d node (nil without a graph).
    var weightSparsity: Double?

    /// Parameters (elements) of every tensor in the package, referenced or not.
    var parameterCount: Int { tensors.reduce(0) { $0 + $1.tensor.elementCount } }
    /// Decoded bytes of every tensor.
    var bytesInMemory: Int { tensors.reduce(0) { $0 + $1.tensor.byteCount } }
    var compressionRatio: Double { bytesOnDisk > 0 ? Double(bytesInMemory) / Double(bytesOnDisk) : 0 }
    var unusedTensors: [String] { tensors.names.filter { usedBy[$0] == nil } }

    /// A summary of a package with a graph. Batch dimensions are the sizes that change between
    /// batch 1 and batch 2, shown as `N`.
    init(package: ModelPackage, path: String) throws {
        // Not `package.contents`: that re-encodes the graph, which the summary does not need.
        self.init(contents: PackageContents(tensors: package.tensors, masks: package.masks, provenance: package.provenance, source: package.source),
                  graph: package.graph, path: path)
        let one = try package.inferShapes(batch: 1), two = try package.inferShapes(batch: 2)
        func describe(_ value: String) -> (String, JSONValue) {
            guard let a = one[value]?.dims, let b = two[value]?.dims else { return ("?", .null) }
            let batchDims = Set(a.indices.filter { a[$0] != b[$0] })
            let json = JSONValue.array(a.indices.map { batchDims.contains($0) ? .string("N") : .int(a[$0]) })
            return (Formatting.shape(a, batchDims: batchDims), json)
        }
        nodes = package.graph.nodes.map { node in
            let params = node.params.values.compactMap { package.tensors[$0] }
            let weight = node.params["weight"].flatMap { package.tensors[$0] }
            let sparsityOf = weight.map { [$0] } ?? params
            let inputs = node.inputs.map(describe)
            let output = describe(node.output)
            return NodeRow(
                node: node,
                inputShapes: inputs.map(\.0), outputShape: output.0,
                inputShapesJSON: inputs.map(\.1), outputShapeJSON: output.1,
                parameters: params.reduce(0) { $0 + $1.elementCount },
                bytes: params.reduce(0) { $0 + $1.byteCount },
                dtype: (weight ?? params.first).map { $0.dtype.rawValue },
                sparsity: sparsityOf.isEmpty ? nil : Self.zeroFraction(sparsityOf))
        }
        let weights = package.graph.nodes.filter(\.op.hasWeightMatrix).compactMap { $0.params["weight"].flatMap { package.tensors[$0] } }
        weightSparsity = weights.isEmpty ? nil : Self.zeroFraction(weights)
    }

    /// A summary of bare weights (no graph): every tensor is listed, none is used.
    init(contents: PackageContents, graph: Graph?, path: String) {
        name = graph?.name ?? URL(fileURLWithPath: path).lastPathComponent
        self.path = path
        inputs = graph?.inputs ?? []
        outputs = graph?.outputs ?? []
        tensors = contents.tensors
        masks = contents.masks
        provenance = contents.provenance
        bytesOnDisk = RuntimeSupport.sizeOnDisk(path)
        for node in graph?.nodes ?? [] {
            for tensorName in Set(node.params.values) { usedBy[tensorName, default: []].append(node.name) }
        }
    }

    /// Fraction of elements equal to zero (after dequantization) across `tensors`.
    static func zeroFraction(_ tensors: [Tensor]) -> Double {
        var zeros = 0, total = 0
        for tensor in tensors {
            zeros += tensor.zeroCount
            total += tensor.elementCount
        }
        return total > 0 ? Double(zeros) / Double(total) : 0
    }

    // MARK: - Output

    var json: JSONValue {
        var root: [String: JSONValue] = [
            "model": ["name": .string(name), "path": .string(path)],
            "inputs": .array(inputs.map { input in
                ["name": .string(input.name), "dtype": .string(input.dtype.rawValue),
                 "shape": .array(input.shape.map { $0 == -1 ? .string("N") : .int($0) })]
            }),
            "outputs": .array(outputs.map { .string($0) }),
            "nodes": .array(nodes.map(\.json)),
            "tensors": .array(tensors.map { name, tensor in
                var entry: [String: JSONValue] = [
                    "name": .string(name), "dtype": .string(tensor.dtype.rawValue), "shape": .ints(tensor.shape.dims),
                    "bytes": .int(tensor.byteCount), "used_by": .array((usedBy[name] ?? []).map { .string($0) }),
                    "masked": .bool(masks.contains(name)),
                ]
                if let s = stored.first(where: { $0.name == name && $0.role == "param" }) {
                    entry["encoding"] = .string(s.encoding)
                    entry["stored_bytes"] = .int(s.storedBytes)
                }
                return .object(entry)
            }),
            "unused_tensors": .array(unusedTensors.map { .string($0) }),
            "totals": [
                "parameters": .int(parameterCount),
                "bytes_on_disk": .int(bytesOnDisk),
                "bytes_in_memory": .int(bytesInMemory),
                "compression_ratio": .number(compressionRatio),
                "weight_sparsity": weightSparsity.map { .number($0) } ?? .null,
            ],
        ]
        if let data = try? JSONEncoder().encode(provenance), let value = try? JSONDecoder().decode(JSONValue.self, from: data) {
            root["provenance"] = value
        }
        if !int8Kernels.isEmpty {
            root["int8_kernels"] = ["batch": .int(1), "cpu": CPUFeatures.json,
                                    "nodes": .object(Dictionary(uniqueKeysWithValues: int8Kernels.map { ($0.node, .string($0.kernel)) }))]
        }
        if let onnx {
            func values(_ list: [ONNXSummary.Value]) -> JSONValue {
                .array(list.map { ["name": .string($0.name), "dtype": .string($0.elementType),
                                   "dims": .array($0.dims.map { Int($0).map(JSONValue.int) ?? .string($0) })] })
            }
            root["onnx"] = [
                "ir_version": .int(Int(onnx.irVersion)), "producer": .string(onnx.producer),
                "opsets": .array(onnx.opsets.map { ["domain": .string($0.domain), "version": .int(Int($0.version))] }),
                "inputs": values(onnx.inputs), "outputs": values(onnx.outputs),
                "onnx_nodes": .int(onnx.nodeCount), "initializers": .int(onnx.initializerCount),
                "op_types": .array(onnx.opTypes.map { .string($0) }),
            ]
        }
        if !stored.isEmpty {
            root["artifact"] = ["tensors": .array(stored.map { s in
                ["name": .string(s.name), "role": .string(s.role), "encoding": .string(s.encoding),
                 "stored_bytes": .int(s.storedBytes), "decoded_bytes": .int(s.decodedBytes)]
            })]
        }
        return .object(root)
    }

    var table: String {
        var text = "\(name) — \(path)\n"
        if !inputs.isEmpty {
            let described = inputs.map { input -> String in
                let batchDims = Set(input.shape.indices.filter { input.shape[$0] == -1 })
                return "\(input.name) \(Formatting.shape(input.shape, batchDims: batchDims)) \(input.dtype.rawValue)"
            }
            text += "inputs: \(described.joined(separator: ", "))   outputs: \(outputs.joined(separator: ", "))\n"
        }
        if let onnx {
            func describe(_ value: ONNXSummary.Value) -> String { "\(value.name) [\(value.dims.joined(separator: ", "))] \(value.elementType)" }
            let opsets = onnx.opsets.map { "\($0.domain) \($0.version)" }.joined(separator: ", ")
            text += "onnx: ir \(onnx.irVersion), opset \(opsets), producer \(onnx.producer.isEmpty ? "-" : onnx.producer); "
                + "\(onnx.nodeCount) nodes, \(onnx.initializerCount) initializers\n"
            text += "  declared inputs: \(onnx.inputs.map(describe).joined(separator: ", "))   outputs: \(onnx.outputs.map(describe).joined(separator: ", "))\n"
        }
        if !nodes.isEmpty {
            var table = TextTable([.init("node"), .init("op"), .init("input"), .init("output"), .init("params", .right),
                                   .init("dtype"), .init("bytes", .right), .init("sparsity", .right)])
            for row in nodes {
                table.add([row.node.name, row.node.op.rawValue, row.inputShapes.joined(separator: ", "), row.outputShape,
                           row.parameters > 0 ? Formatting.count(row.parameters) : "-", row.dtype ?? "-",
                           row.bytes > 0 ? Formatting.bytes(row.bytes) : "-", row.sparsity.map(Formatting.percent) ?? "-"])
            }
            text += "\n" + table.render()
        }
        if !int8Kernels.isEmpty {
            text += "\nINT8 kernels at batch 1 (\(CPUFeatures.summary)): "
                + int8Kernels.map { "\($0.node) \($0.kernel)" }.joined(separator: ", ") + "\n"
        }
        let unused = unusedTensors
        if !unused.isEmpty {
            var table = TextTable([.init(nodes.isEmpty ? "tensor" : "unused tensor"), .init("dtype"), .init("shape"), .init("bytes", .right)])
            for name in unused {
                guard let t = tensors[name] else { continue }
                table.add([name, t.dtype.rawValue, t.shape.description, Formatting.bytes(t.byteCount)])
            }
            text += "\n" + table.render()
        }
        if !stored.isEmpty {
            var table = TextTable([.init("stored tensor"), .init("role"), .init("encoding"), .init("stored", .right),
                                   .init("decoded", .right), .init("ratio", .right)])
            for s in stored {
                let ratio = s.storedBytes > 0 ? Formatting.ratio(Double(s.decodedBytes) / Double(s.storedBytes)) : "-"
                table.add([s.name, s.role, s.encoding, Formatting.bytes(s.storedBytes), Formatting.bytes(s.decodedBytes), ratio])
            }
            text += "\n" + table.render()
        }
        if !provenance.steps.isEmpty {
            text += "\nprovenance (\(provenance.tool) \(provenance.version)):\n"
            for (i, step) in provenance.steps.enumerated() {
                let options = step.options.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.plainText)" }
                let results = step.results.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.plainText)" }
                text += "  \(i + 1). \(step.step)" + (options.isEmpty ? "" : " " + options.joined(separator: " "))
                    + (results.isEmpty ? "" : " → " + results.joined(separator: " ")) + "\n"
            }
        }
        text += "\ntotals: \(Formatting.count(parameterCount)) parameters, \(Formatting.bytes(bytesInMemory)) in memory, "
            + "\(Formatting.bytes(bytesOnDisk)) on disk, compression \(Formatting.ratio(compressionRatio))"
            + (weightSparsity.map { ", weight sparsity \(Formatting.percent($0))" } ?? "") + "\n"
        return text
    }
}

extension ModelSummary.NodeRow {
    var json: JSONValue {
        var o: [String: JSONValue] = [
            "name": .string(node.name), "op": .string(node.op.rawValue),
            "inputs": .array(node.inputs.map { .string($0) }), "input_shapes": .array(inputShapesJSON),
            "output": .string(node.output), "output_shape": outputShapeJSON,
            "params": .object(node.params.mapValues { .string($0) }),
            "parameters": .int(parameters), "bytes": .int(bytes),
            "dtype": dtype.map { .string($0) } ?? .null,
            "sparsity": sparsity.map { .number($0) } ?? .null,
        ]
        if !node.attrs.isEmpty { o["attrs"] = .object(node.attrs) }
        return .object(o)
    }
}

extension JSONValue {
    /// Short text for tables: strings bare, numbers as written, the rest as JSON.
    var plainText: String {
        switch self {
        case .string(let s): return s
        case .number(let n): return n.rounded() == n && abs(n) < 1e15 ? String(Int(n)) : String(n)
        case .bool(let b): return String(b)
        case .null: return "null"
        case .array, .object:
            guard let data = try? JSONEncoder().encode(self) else { return "?" }
            return String(decoding: data, as: UTF8.self)
        }
    }
}
