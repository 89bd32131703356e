import TensorCore

/// Broken invariants of a graph. Messages are one line and name the node.
public enum GraphError: Error, CustomStringConvertible, Equatable {
    case malformedJSON(String)
    case unsupportedVersion(Int)
    case unknownOp(node: String, op: String)
    case duplicateNode(String)
    case duplicateValue(String)
    case danglingInput(node: String, input: String)
    case unknownOutput(String)
    case noOutputs
    case cycle(node: String)
    case wrongInputCount(node: String, op: OpKind, expected: Int, actual: Int)
    case missingParam(node: String, role: String)
    case unknownParamRole(node: String, role: String)
    case missingTensor(node: String, role: String, tensor: String)
    /// As `missingTensor`, where the file holds the tensor under a prefix (`module.` of
    /// nn.DataParallel, `model.` of Lightning): the message says how to strip it.
    case prefixedTensor(node: String, role: String, tensor: String, prefix: String)
    /// `expected` is written like a shape, with names for sizes the tensor itself decides: `[out, 64]`.
    case wrongParamShape(node: String, role: String, tensor: String, expected: String, actual: [Int])
    case wrongParamDType(node: String, role: String, tensor: String, dtype: DType)
    case badAttribute(node: String, attr: String, reason: String)
    case shapeMismatch(node: String, reason: String)
    case badInputShape(input: String, shape: [Int], reason: String)
    case unfeedableInput(input: String, dtype: DType)
    /// A parameter's values break what its op requires (a negative batchnorm variance).
    case badParamValue(node: String, role: String, tensor: String, reason: String)
    case badMask(tensor: String, reason: String)
    /// An ONNX file that breaks the protobuf encoding or the ONNX IR's rules (docs/onnx.md).
    case malformedONNX(String)
    /// A valid ONNX construct ModelSmith does not import (an element type, a sparse initializer, …).
    case unsupportedONNX(String)
    case unsupportedONNXOp(node: String, op: String, opset: Int)
    /// Any of the above, found in a file: the message starts with the file's path.
    indirect case located(path: String, error: GraphError)

    public var description: String {
        switch self {
        case .malformedJSON(let reason): return "model.json is malformed: \(reason)"
        case .unsupportedVersion(let v): return "model.json declares \"modelsmith\": \(v); this version reads 1"
        case .unknownOp(let node, let op): return "node '\(node)': unknown op '\(op)'"
        case .duplicateNode(let node): return "node '\(node)' is defined twice"
        case .duplicateValue(let value): return "value '\(value)' is produced twice"
        case .danglingInput(let node, let input): return "node '\(node)': input '\(input)' is neither a graph input nor any node's output"
        case .unknownOutput(let output): return "graph output '\(output)' is not produced by any node"
        case .noOutputs: return "model.json declares no graph outputs (\"outputs\" must name at least one value)"
        case .cycle(let node): return "node '\(node)' is part of a cycle"
        case .wrongInputCount(let node, let op, let expected, let actual):
            return "node '\(node)': \(op.rawValue) takes \(expected) input(s), got \(actual)"
        case .missingParam(let node, let role): return "node '\(node)': missing param '\(role)'"
        case .unknownParamRole(let node, let role): return "node '\(node)': unknown param '\(role)'"
        case .missingTensor(let node, let role, let tensor): return "node '\(node)': param '\(role)' refers to tensor '\(tensor)', which is absent"
        case .prefixedTensor(let node, let role, let tensor, let prefix):
            return "node '\(node)': param '\(role)' refers to tensor '\(tensor)', which is absent; the file has '\(prefix)\(tensor)': pass --strip-prefix \(prefix)"
        case .wrongParamShape(let node, let role, let tensor, let expected, let actual):
            return "node '\(node)': param '\(role)' (\(tensor)) has shape \(actual), expected \(expected)"
        case .wrongParamDType(let node, let role, let tensor, let dtype):
            return "node '\(node)': param '\(role)' (\(tensor)) has dtype \(dtype.rawValue), which this op cannot use"
        case .badAttribute(let node, let attr, let reason): return "node '\(node)': attribute '\(attr)' \(reason)"
        case .shapeMismatch(let node, let reason): return "node '\(node)': \(reason)"
        case .badInputShape(let input, let shape, let reason): return "graph input '\(input)' has shape \(shape): \(reason)"
        case .unfeedableInput(let input, let dtype):
            return "graph input '\(input)' has dtype \(dtype.rawValue); the runtime feeds only \(ValueInfo.feedableDTypes.map(\.rawValue).sorted().joined(separator: ", ")) inputs"
        case .badParamValue(let node, let role, let tensor, let reason): return "node '\(node)': param '\(role)' (\(tensor)) \(reason)"
        case .badMask(let tensor, let reason): return "mask of tensor '\(tensor)': \(reason)"
        case .malformedONNX(let reason): return "malformed ONNX: \(reason)"
        case .unsupportedONNX(let reason): return "unsupported ONNX: \(reason)"
        case .unsupportedONNXOp(let node, let op, let opset): return "node '\(node)': op '\(op)' (opset \(opset)) is not supported"
        case .located(let path, let error): return "\(path): \(error)"
        }
    }
}
