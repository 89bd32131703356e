import TensorCore

/// Broken invariants of a run or a plan. Messages are one line and name the input, node or value.
public enum RuntimeError: Error, CustomStringConvertible, Equatable {
    case missingInput(String)
    case unexpectedInput(String)
    case wrongInputDType(input: String, dtype: DType, expected: DType)
    case wrongInputRank(input: String, expected: [Int], actual: [Int])
    case wrongInputDim(input: String, dim: Int, expected: Int, actual: [Int])
    case nonFiniteInput(input: String, index: Int, value: Float)
    /// An integer input beyond what f32 holds exactly (docs/ops.md, "Values").
    case inexactIntegerInput(input: String, index: Int, value: Int)
    case batchTooLarge(input: String, batch: Int, maxBatch: Int)
    case emptyBatch(input: String)
    case inconsistentBatch(input: String, batch: Int, expected: Int)
    case unsupported(node: String, reason: String)
    case shapeMismatch(node: String, reason: String)
    /// A value computed at run time that the op cannot use (a gather index out of range).
    case badValue(node: String, reason: String)
    case unknownTap(String)
    case fusedAway(value: String, node: String)
    case badOption(String)
    case missingDatasetKey(path: String, key: String, available: [String])
    case badDataset(path: String, reason: String)

    public var description: String {
        switch self {
        case .missingInput(let name): return "input '\(name)' is missing"
        case .unexpectedInput(let name): return "input '\(name)' is not a graph input"
        case .wrongInputDType(let name, let dtype, let expected): return "input '\(name)' has dtype \(dtype.rawValue), expected \(expected.rawValue)"
        case .wrongInputRank(let name, let expected, let actual):
            return "input '\(name)' has shape \(actual), expected rank \(expected.count) \(Self.pattern(expected))"
        case .wrongInputDim(let name, let dim, let expected, let actual):
            return "input '\(name)' has shape \(actual): dim \(dim) is \(actual[dim]), expected \(expected)"
        case .nonFiniteInput(let name, let index, let value): return "input '\(name)' holds \(value) at flat index \(index)"
        case .batchTooLarge(let name, let batch, let maxBatch):
            return "input '\(name)' has batch \(batch), larger than the planned maximum \(maxBatch) (raise maxBatch / --batch)"
        case .emptyBatch(let name): return "input '\(name)' has batch 0"
        case .inconsistentBatch(let name, let batch, let expected): return "input '\(name)' has batch \(batch), other inputs have \(expected)"
        case .unsupported(let node, let reason): return "node '\(node)': \(reason)"
        case .shapeMismatch(let node, let reason): return "node '\(node)': \(reason)"
        case .badValue(let node, let reason): return "node '\(node)': \(reason)"
        case .inexactIntegerInput(let name, let index, let value):
            return "input '\(name)': integer \(value) at index \(index) is beyond ±2^24, which f32 values hold exactly"
        case .unknownTap(let value): return "tap '\(value)' is not a value of the graph"
        case .fusedAway(let value, let node):
            return "value '\(value)' was fused into node '\(node)' at plan time; plan with SessionOptions(fuse: false) to observe it"
        case .badOption(let reason): return "session option: \(reason)"
        case .missingDatasetKey(let path, let key, let available):
            return "\(path): no array '\(key)' (has: \(available.joined(separator: ", ")))"
        case .badDataset(let path, let reason): return "\(path): \(reason)"
        }
    }

    private static func pattern(_ dims: [Int]) -> String {
        "[" + dims.map { $0 < 0 ? "batch" : String($0) }.joined(separator: ", ") + "]"
    }
}
