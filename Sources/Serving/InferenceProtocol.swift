import Foundation
import TensorCore

/// What the protocol says about one model: its inputs and outputs, each FP32 with a leading
/// batch dimension (`-1` in metadata) and a fixed per-sample shape.
public struct ModelSignature: Sendable, Equatable {
    public struct Value: Sendable, Equatable {
        public var name: String
        public var sampleShape: [Int]
        public init(name: String, sampleShape: [Int]) {
            self.name = name
            self.sampleShape = sampleShape
        }
    }

    public var inputs: [Value]
    public var outputs: [Value]
    /// The largest batch one request may carry (`--max-batch`).
    public var maxBatch: Int

    public init(inputs: [Value], outputs: [Value], maxBatch: Int) {
        self.inputs = inputs
        self.outputs = outputs
        self.maxBatch = maxBatch
    }
}

/// A decoded `POST /v2/models/{name}/infer`: the input tensors, batch-major f32.
public struct InferRequest: Sendable {
    public var id: String?
    public var inputs: [String: Tensor]
    public var batch: Int
    /// The outputs to return, in the order asked (all of them, in graph order, when none were named).
    public var outputs: [String]
    /// The outputs to return in the binary-tensor extension rather than as JSON numbers.
    public var binaryOutputs: Set<String>
}

/// The Open Inference Protocol (KServe v2) request body, JSON tensors and the binary-tensor
/// extension, decoded against a model's signature (docs/serving.md, "Protocol"). Every refusal is
/// a 400 naming the field or the input.
public struct RequestDecoder: Sendable {
    public var signature: ModelSignature
    public var allowNonFinite: Bool

    public init(signature: ModelSignature, allowNonFinite: Bool = false) {
        self.signature = signature
        self.allowNonFinite = allowNonFinite
    }

    /// `body` is the whole request body; `jsonLength` the `Inference-Header-Content-Length`
    /// header when the binary extension is used (the JSON comes first, then the tensors' bytes).
    public func decode(body: [UInt8], jsonLength: Int?) throws -> InferRequest {
        let jsonBytes: ArraySlice<UInt8>
        var binary: ArraySlice<UInt8> = []
        if let jsonLength {
            guard jsonLength >= 0, jsonLength <= body.count else {
                throw ServingError.badRequest("Inference-Header-Content-Length is \(jsonLength), the body has \(body.count) bytes")
            }
            jsonBytes = body[..<jsonLength]
            binary = body[jsonLength...]
        } else {
            jsonBytes = body[...]
        }
        let document: RequestDocument
        do {
            document = try JSONDecoder().decode(RequestDocument.self, from: Data(jsonBytes))
        } catch let error as DecodingError {
            throw ServingError.badRequest(Self.describe(error))
        } catch {
            throw ServingError.badRequest("the body is not JSON: \(error.localizedDescription)")
        }
        return try assemble(document, binary: binary)
    }

    private func assemble(_ document: RequestDocument, binary: ArraySlice<UInt8>) throws -> InferRequest {
        var tensors: [String: Tensor] = [:]
        var batch: Int?
        var binaryOffset = binary.startIndex
        for (index, input) in document.inputs.enumerated() {
            let field = "inputs[\(index)]"
            guard let expected = signature.inputs.first(where: { $0.name == input.name }) else {
                throw ServingError.badRequest("\(field).name: the model has no input '\(input.name)' (it takes \(signature.inputs.map { "'\($0.name)'" }.joined(separator: ", ")))")
            }
            guard tensors[input.name] == nil else { throw ServingError.badRequest("\(field).name: input '\(input.name)' is given twice") }
            guard input.datatype == "FP32" else {
                throw ServingError.badRequest("input '\(input.name)': datatype \(input.datatype), the model takes FP32")
            }
            let shape = input.shape
            guard shape.count == expected.sampleShape.count + 1 else {
                throw ServingError.badRequest("input '\(input.name)': shape \(shape) has rank \(shape.count), the model takes [batch] + \(expected.sampleShape)")
            }
            guard Array(shape.dropFirst()) == expected.sampleShape else {
                throw ServingError.badRequest("input '\(input.name)': shape \(shape), the model takes [batch] + \(expected.sampleShape)")
            }
            guard shape[0] >= 1, shape[0] <= signature.maxBatch else {
                throw ServingError.badRequest("input '\(input.name)': batch \(shape[0]) is outside 1…\(signature.maxBatch) (--max-batch)")
            }
            if let batch, batch != shape[0] {
                throw ServingError.badRequest("input '\(input.name)': batch \(shape[0]), another input has batch \(batch)")
            }
            batch = shape[0]
            let count = shape.reduce(1, *)  // bounded: batch ≤ max-batch and the sample shape is the model's
            var values: [Float]
            if let size = input.parameters?["binary_data_size"] {
                guard case .int(let byteCount) = size, byteCount >= 0 else {
                    throw ServingError.badRequest("\(field).parameters.binary_data_size must be a non-negative integer")
                }
                guard input.data == nil else { throw ServingError.badRequest("input '\(input.name)': both data and binary_data_size are given") }
                guard byteCount == count * 4 else {
                    throw ServingError.badRequest("input '\(input.name)': binary_data_size \(byteCount), shape \(shape) of FP32 takes \(count * 4) bytes")
                }
                guard binary.endIndex - binaryOffset >= byteCount else {
                    throw ServingError.badRequest("input '\(input.name)': binary_data_size \(byteCount) runs past the end of the body (\(binary.endIndex - binaryOffset) bytes left)")
                }
                values = [Float](repeating: 0, count: count)
                values.withUnsafeMutableBytes { destination in
                    binary[binaryOffset..<(binaryOffset + byteCount)].withUnsafeBytes { destination.copyMemory(from: $0) }
                }
                binaryOffset += byteCount
            } else {
                guard let data = input.data else { throw ServingError.badRequest("input '\(input.name)': no data and no binary_data_size") }
                guard data.values.count == count else {
                    throw ServingError.badRequest("input '\(input.name)': \(data.values.count) values, shape \(shape) takes \(count)")
                }
                values = data.values
            }
            if !allowNonFinite, let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw ServingError.badRequest("input '\(input.name)': element \(bad) is \(values[bad]) (NaN and ±Inf are refused without --allow-nonfinite)")
            }
            tensors[input.name] = Tensor(values, shape: Shape(shape))
        }
        guard binaryOffset == binary.endIndex else {
            throw ServingError.badRequest("the body has \(binary.endIndex - binaryOffset) bytes after the tensors that binary_data_size declares")
        }
        for expected in signature.inputs where tensors[expected.name] == nil {
            throw ServingError.badRequest("inputs: input '\(expected.name)' is missing")
        }
        guard let batch else { throw ServingError.badRequest("inputs: the model has no inputs") }

        let allBinary = document.parameters?["binary_data_output"] == .bool(true)
        var outputs: [String] = []
        var binaryOutputs: Set<String> = []
        for (index, output) in (document.outputs ?? []).enumerated() {
            guard signature.outputs.contains(where: { $0.name == output.name }) else {
                throw ServingError.badRequest("outputs[\(index)].name: the model has no output '\(output.name)'")
            }
            outputs.append(output.name)
            if output.parameters?["binary_data"] == .bool(true) || allBinary { binaryOutputs.insert(output.name) }
        }
        if outputs.isEmpty {
            outputs = signature.outputs.map(\.name)
            if allBinary { binaryOutputs = Set(outputs) }
        }
        return InferRequest(id: document.id, inputs: tensors, batch: batch, outputs: outputs, binaryOutputs: binaryOutputs)
    }

    /// A decoding error as "field: reason", the field as a path (`inputs[0].shape`).
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            var text = ""
            for key in keys {
                if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
            }
            return text.isEmpty ? "the body" : text
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])): missing"
        case .typeMismatch(let type, let context): return "\(path(context.codingPath)): expected \(Self.typeName(type))"
        case .valueNotFound(let type, let context): return "\(path(context.codingPath)): expected \(Self.typeName(type)), got null"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "the body is not valid JSON" : "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "the body is not a valid inference request"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        default: "\(type)".contains("Array") ? "an array" : "an object"
        }
    }
}

/// The request JSON, as the protocol names its fields.
struct RequestDocument: Decodable {
    struct Input: Decodable {
        var name: String
        var shape: [Int]
        var datatype: String
        var parameters: [String: Parameter]?
        var data: FlatNumbers?
    }

    struct Output: Decodable {
        var name: String
        var parameters: [String: Parameter]?
    }

    var id: String?
    var parameters: [String: Parameter]?
    var inputs: [Input]
    var outputs: [Output]?
}

/// A protocol parameter value: bool, integer, number or string.
enum Parameter: Decodable, Equatable {
    case bool(Bool), int(Int), number(Double), string(String)

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let value = try? c.decode(Bool.self) { self = .bool(value) }
        else if let value = try? c.decode(Int.self) { self = .int(value) }
        else if let value = try? c.decode(Double.self) { self = .number(value) }
        else { self = .string(try c.decode(String.self)) }
    }
}

/// Tensor `data`: a flat array of numbers (what clients send) or nested arrays, row-major.
struct FlatNumbers: Decodable {
    var values: [Float]

    init(from decoder: any Decoder) throws {
        if let flat = try? decoder.singleValueContainer().decode([Double].self) {
            values = flat.map { Float($0) }
            return
        }
        var values: [Float] = []
        try Self.append(from: decoder.singleValueContainer().decode([Nested].self), into: &values)
        self.values = values
    }

    private indirect enum Nested: Decodable {
        case number(Double), array([Nested])
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let value = try? c.decode(Double.self) { self = .number(value) } else { self = .array(try c.decode([Nested].self)) }
        }
    }

    private static func append(from items: [Nested], into values: inout [Float]) throws {
        for item in items {
            switch item {
            case .number(let value): values.append(Float(value))
            case .array(let inner): try append(from: inner, into: &values)
            }
        }
    }
}
