import Foundation
import ONNXProto
import TensorCore

/// One ONNX node's attributes, read by name with their declared type checked. Every attribute a
/// translation does not read is refused by `checkAllRead()`, so an option ModelSmith would ignore
/// (and compute something else) is never dropped silently (docs/onnx.md, "Refused").
struct ONNXAttributes {
    private let node: String
    private let byName: [String: Onnx_AttributeProto]
    private var read = Set<String>()

    init(_ proto: Onnx_NodeProto, node: String) throws {
        self.node = node
        var byName: [String: Onnx_AttributeProto] = [:]
        for attribute in proto.attribute {
            guard !attribute.name.isEmpty else { throw GraphError.malformedONNX("node '\(node)': an attribute has no name") }
            guard byName.updateValue(attribute, forKey: attribute.name) == nil else {
                throw GraphError.malformedONNX("node '\(node)': attribute '\(attribute.name)' appears twice")
            }
            if !attribute.refAttrName.isEmpty {
                throw GraphError.unsupportedONNX("node '\(node)': attribute '\(attribute.name)' refers to a function attribute")
            }
        }
        self.byName = byName
    }

    var names: Set<String> { Set(byName.keys) }
    func has(_ name: String) -> Bool { byName[name] != nil }

    private mutating func attribute(_ name: String, _ type: Onnx_AttributeProto.AttributeType) throws -> Onnx_AttributeProto? {
        guard let attribute = byName[name] else { return nil }
        read.insert(name)
        // Files older than IR 3 leave `type` unset; the field that is filled then decides.
        guard attribute.type == type || attribute.type == .undefined else {
            throw GraphError.malformedONNX("node '\(node)': attribute '\(name)' has type \(attribute.type), expected \(type)")
        }
        return attribute
    }

    mutating func int(_ name: String) throws -> Int? {
        guard let a = try attribute(name, .int) else { return nil }
        guard let value = Int(exactly: a.i) else { throw GraphError.malformedONNX("node '\(node)': attribute '\(name)' is out of range") }
        return value
    }

    mutating func int(_ name: String, default value: Int) throws -> Int { try int(name) ?? value }

    mutating func ints(_ name: String) throws -> [Int]? {
        guard let a = try attribute(name, .ints) else { return nil }
        return a.ints.map { Int($0) }
    }

    mutating func float(_ name: String) throws -> Float? { try attribute(name, .float)?.f }
    mutating func float(_ name: String, default value: Float) throws -> Float { try float(name) ?? value }
    mutating func floats(_ name: String) throws -> [Float]? { try attribute(name, .floats)?.floats }

    mutating func string(_ name: String) throws -> String? {
        guard let a = try attribute(name, .string) else { return nil }
        guard let text = String(data: a.s, encoding: .utf8) else { throw GraphError.malformedONNX("node '\(node)': attribute '\(name)' is not UTF-8") }
        return text
    }

    mutating func tensor(_ name: String) throws -> Onnx_TensorProto? { try attribute(name, .tensor)?.t }

    /// Marks attributes that do not change the result (ONNX's `training_mode` = 0, say) as read.
    mutating func ignore(_ names: String...) { read.formUnion(names) }

    /// Refuses the first attribute no translation step read.
    func checkAllRead(op: String) throws {
        if let unread = byName.keys.sorted().first(where: { !read.contains($0) }) {
            throw GraphError.unsupportedONNX("node '\(node)': attribute '\(unread)' of \(op) is not supported")
        }
    }
}
