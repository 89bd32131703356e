/// Failures of INT8 layer setup (oneDNN failures are `KernelError`s).
public enum Int8KernelError: Error, CustomStringConvertible, Equatable {
    case badWeight(String)
    case productUnavailable(String)

    public var description: String {
        switch self {
        case .badWeight(let reason): return "INT8 layer: \(reason)"
        case .productUnavailable(let reason): return "INT8 layer: \(reason)"
        }
    }
}
