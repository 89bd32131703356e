import Foundation
import ModelFormats
import ONNXProto
import SwiftProtobuf
import TensorCore

/// How an `.onnx` file becomes a `ModelPackage` (docs/onnx.md): the protobuf decoded with a
/// nesting bound, the graph checked as ONNX's IR requires (unique names, every value defined,
/// acyclic), initializers turned into the package's tensors (names kept), shape subgraphs folded,
/// and each node translated into the op vocabulary (docs/ops.md) or refused, naming node, op and opset.
public enum ONNXImport {
    /// The opsets of the default domain this importer reads (those `torch.onnx.export` writes).
    public static let supportedOpsets = 7...18
    /// Messages nested deeper than this are refused (a subgraph in an attribute costs three levels).
    public static let maxMessageDepth = 64

    public struct Options: Sendable {
        /// Sizes for symbolic dimensions beyond the batch (`dim_param` name → size), e.g. `sequence=128`.
        public var dims: [String: Int] = [:]
        public init(dims: [String: Int] = [:]) { self.dims = dims }
    }

    /// True for paths this importer claims (by extension; the content is checked on reading).
    public static func canRead(_ path: String) -> Bool { path.lowercased().hasSuffix(".onnx") }

    /// Reads and translates the model at `path`; errors are located at the file.
    public static func load(path: String, limits: ReadLimits = .default, options: Options = Options()) throws -> ModelPackage {
        do {
            let model = try decode(path: path, limits: limits)
            let (graph, tensors) = try ONNXGraphBuilder.build(model, url: URL(fileURLWithPath: path), limits: limits, options: options)
            var provenance = Provenance()
            provenance.steps = [ProvenanceStep(step: "import", options: [
                "format": .string("onnx"), "opset": .number(Double(try defaultOpset(model))),
                "producer": .string([model.producerName, model.producerVersion].filter { !$0.isEmpty }.joined(separator: " ")),
            ])]
            return ModelPackage(graph: graph, tensors: tensors, provenance: provenance, source: path)
        } catch let error as GraphError {
            throw GraphError.located(path: path, error: error)
        }
    }

    /// The model's header and the declared graph inputs/outputs, as `inspect` shows them.
    public static func summary(path: String, limits: ReadLimits = .default) throws -> ONNXSummary {
        do {
            return ONNXSummary(try decode(path: path, limits: limits))
        } catch let error as GraphError {
            throw GraphError.located(path: path, error: error)
        }
    }

    /// Reads one serialized `TensorProto` (the `input_0.pb` files of ONNX's test data).
    public static func readTensor(path: String, limits: ReadLimits = .default) throws -> (name: String, tensor: Tensor) {
        let data = try read(path: path, limits: limits)
        do {
            let proto = try Onnx_TensorProto(serializedBytes: data, options: decodingOptions)
            let what = proto.name.isEmpty ? "tensor" : "tensor '\(proto.name)'"
            return (proto.name, try ONNXTensor.tensor(proto, what: what, limits: limits, external: nil))
        } catch let error as BinaryDecodingError {
            throw GraphError.located(path: path, error: .malformedONNX(describe(error)))
        } catch let error as GraphError {
            throw GraphError.located(path: path, error: error)
        }
    }

    /// Decodes bytes already in memory (the fuzz target's entry point); external data is refused.
    public static func load(data: Data, limits: ReadLimits = .default, options: Options = Options()) throws -> ModelPackage {
        let model: Onnx_ModelProto
        do { model = try Onnx_ModelProto(serializedBytes: data, options: decodingOptions) } catch let error as BinaryDecodingError {
            throw GraphError.malformedONNX(describe(error))
        }
        let (graph, tensors) = try ONNXGraphBuilder.build(model, url: nil, limits: limits, options: options)
        return ModelPackage(graph: graph, tensors: tensors, source: "<memory>")
    }

    static var decodingOptions: BinaryDecodingOptions {
        var options = BinaryDecodingOptions()
        options.messageDepthLimit = maxMessageDepth
        options.discardUnknownFields = true
        return options
    }

    static func decode(path: String, limits: ReadLimits) throws -> Onnx_ModelProto {
        let data = try read(path: path, limits: limits)
        do {
            return try Onnx_ModelProto(serializedBytes: data, options: decodingOptions)
        } catch let error as BinaryDecodingError {
            throw GraphError.malformedONNX(describe(error))
        }
    }

    private static func read(path: String, limits: ReadLimits) throws -> Data {
        guard FileManager.default.fileExists(atPath: path) else { throw FormatError.fileNotFound(path: path) }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        // Protobuf caps one message at 2 GiB; larger models keep their weights as external data.
        guard size <= min(limits.maxDecodedBytes, Int(Int32.max)) else {
            throw FormatError.limitExceeded(path: path, entry: nil, limit: "the \(min(limits.maxDecodedBytes, Int(Int32.max)))-byte limit for one ONNX protobuf")
        }
        do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw FormatError.unreadable(path: path, reason: error.localizedDescription)
        }
    }

    static func describe(_ error: BinaryDecodingError) -> String {
        switch error {
        case .truncated: return "the protobuf is truncated (a varint, a length or a field runs past the end)"
        case .malformedProtobuf: return "the protobuf is malformed (a bad wire type, tag or length)"
        case .messageDepthLimit: return "messages are nested deeper than \(maxMessageDepth) levels"
        case .invalidUTF8: return "a string field is not UTF-8"
        default: return "the protobuf cannot be decoded (\(error))"
        }
    }

    /// The version of the default ONNX domain the model imports.
    static func defaultOpset(_ model: Onnx_ModelProto) throws -> Int {
        let entries = model.opsetImport.filter { $0.domain.isEmpty || $0.domain == "ai.onnx" }
        guard entries.count <= 1 else { throw GraphError.malformedONNX("the default domain is imported twice") }
        // IR version 1/2 files without opset_import mean opset 1.
        guard let entry = entries.first else { return 1 }
        guard let version = Int(exactly: entry.version) else { throw GraphError.malformedONNX("opset version \(entry.version) is out of range") }
        return version
    }
}

/// What `inspect` shows of an ONNX file beyond the translated graph.
public struct ONNXSummary: Sendable {
    public struct Value: Sendable {
        public var name: String
        public var elementType: String
        /// Each dim as its size or its symbolic name (`batch`, `sequence`), `?` when neither.
        public var dims: [String]
    }
    public var irVersion: Int64
    public var producer: String
    public var opsets: [(domain: String, version: Int64)]
    public var graphName: String
    public var inputs: [Value]
    public var outputs: [Value]
    public var nodeCount: Int
    public var initializerCount: Int
    /// The op types the graph uses (domain-qualified outside the default domain), in first-use order.
    public var opTypes: [String]

    init(_ model: Onnx_ModelProto) {
        irVersion = model.irVersion
        producer = [model.producerName, model.producerVersion].filter { !$0.isEmpty }.joined(separator: " ")
        opsets = model.opsetImport.map { ($0.domain.isEmpty ? "ai.onnx" : $0.domain, $0.version) }
        graphName = model.graph.name
        let initializers = Set(model.graph.initializer.map(\.name))
        func value(_ info: Onnx_ValueInfoProto) -> Value {
            guard case .tensorType(let type)? = info.type.value else { return Value(name: info.name, elementType: "non-tensor", dims: []) }
            let dims = type.shape.dim.map { dim -> String in
                switch dim.value {
                case .dimValue(let size)?: return String(size)
                case .dimParam(let name)?: return name
                case nil: return "?"
                }
            }
            return Value(name: info.name, elementType: ONNXTensor.dtype(type.elemType)?.rawValue ?? ONNXTensor.typeName(type.elemType), dims: dims)
        }
        inputs = model.graph.input.filter { !initializers.contains($0.name) }.map(value)
        outputs = model.graph.output.map(value)
        nodeCount = model.graph.node.count
        var seen = Set<String>()
        opTypes = model.graph.node.map { $0.domain.isEmpty || $0.domain == "ai.onnx" ? $0.opType : "\($0.domain).\($0.opType)" }
            .filter { seen.insert($0).inserted }
        initializerCount = model.graph.initializer.count
    }
}
