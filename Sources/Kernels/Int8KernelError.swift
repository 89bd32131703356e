/// Failures of INT8 kernel setup (the BLAS/oneDNN library refusing a configuration).
public enum Int8KernelError: Error, CustomStringConvertible, Equatable {
    case dnnl(String)
    case badWeight(String)

    public var description: String {
        switch self {
        case .dnnl(let what): return "oneDNN failed to set up \(what)"
        case .badWeight(let reason): return "INT8 layer: \(reason)"
        }
    }
}
