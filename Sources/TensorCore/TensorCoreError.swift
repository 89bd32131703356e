/// Broken invariants of tensor construction. Each message is one line.
public enum TensorCoreError: Error, CustomStringConvertible, Equatable {
    case shapeOverflow([Int])
    case byteCountMismatch(shape: [Int], dtype: DType, expected: Int, actual: Int)
    /// `bytes` nil: the size overflows.
    case overBudget(owner: String, bytes: Int?, limit: Int)

    public var description: String {
        switch self {
        case .shapeOverflow(let dims):
            return "shape \(dims) has a negative dimension or too many elements"
        case .byteCountMismatch(let shape, let dtype, let expected, let actual):
            return "shape \(shape) of \(dtype) needs \(expected) bytes, found \(actual)"
        case .overBudget(let owner, let bytes, let limit):
            let wanted = bytes.map { "\($0) bytes" } ?? "more bytes than fit in an integer"
            return "\(owner) needs \(wanted), over the memory budget of \(limit) bytes (raise it with --max-memory)"
        }
    }
}
