import TensorCore

/// Broken invariants of a pruning request. Each message is one line and names the tensor or layer.
public enum PruningError: Error, CustomStringConvertible, Equatable {
    /// A fraction that is NaN, negative or above 1.
    case invalidFraction(Double)
    /// Text that is neither an integer nor a decimal number.
    case unparsableAmount(String)
    /// A negative count.
    case negativeCount(Int)
    /// A count larger than the entries still unpruned in the tensor (or in all tensors, for global scope).
    case countExceedsSize(count: Int, available: Int, tensor: String)
    /// `--layers` / `--exclude` named something that is neither a node nor a parameter tensor.
    case unknownLayer(String, available: [String])
    /// The selection is empty: the model has no linear/conv weights, or all were excluded.
    case noPrunableLayers(model: String)
    /// A selected parameter is missing from the package's tensors.
    case missingTensor(String)
    /// A mask whose shape differs from its tensor's.
    case maskShapeMismatch(tensor: String, mask: [Int], expected: [Int])
    /// A mask that is not a `bool` tensor.
    case maskNotBool(tensor: String, dtype: DType)
    /// A tensor whose dtype pruning cannot zero (integers without quantization parameters, bool).
    case unsupportedDType(tensor: String, dtype: DType)

    public var description: String {
        switch self {
        case .invalidFraction(let f):
            return "pruning amount \(f) is not a fraction in [0, 1] (use an integer for a count)"
        case .unparsableAmount(let text):
            return "pruning amount '\(text)' is neither a fraction (0.8) nor a count (1200)"
        case .negativeCount(let n):
            return "pruning amount \(n) is negative; a count must be ≥ 0"
        case .countExceedsSize(let count, let available, let tensor):
            return "pruning amount \(count) exceeds the \(available) unpruned entries of \(tensor)"
        case .unknownLayer(let name, let available):
            return "unknown layer or parameter '\(name)'; prunable layers: \(available.joined(separator: ", "))"
        case .noPrunableLayers(let model):
            return "model '\(model)' has no prunable layers (weights of linear or conv2d nodes) left to prune"
        case .missingTensor(let name):
            return "parameter '\(name)' is not in the package's tensors"
        case .maskShapeMismatch(let tensor, let mask, let shape):
            return "mask of '\(tensor)' has shape \(mask), the tensor has \(shape)"
        case .maskNotBool(let tensor, let dtype):
            return "mask of '\(tensor)' has dtype \(dtype.rawValue), expected bool"
        case .unsupportedDType(let tensor, let dtype):
            return "cannot prune '\(tensor)' of dtype \(dtype.rawValue)"
        }
    }

    /// The same error with the tensor named, for errors raised where only the values were known.
    func naming(_ tensor: String) -> PruningError {
        if case .countExceedsSize(let count, let available, _) = self {
            return .countExceedsSize(count: count, available: available, tensor: tensor)
        }
        return self
    }
}
