/// Broken invariants inside the kernel layer. Messages are one line.
public enum KernelError: Error, CustomStringConvertible, Equatable {
    /// A oneDNN call returned an error status.
    case dnnl(call: String, status: Int32)
    /// oneDNN has no implementation for this configuration.
    case unsupported(String)
    /// Shapes that the kernel cannot be built for (checked before calling into C).
    case badShape(String)

    public var description: String {
        switch self {
        case .dnnl(let call, let status): return "oneDNN \(call) failed with status \(status)"
        case .unsupported(let what): return "no oneDNN implementation for \(what)"
        case .badShape(let what): return "kernel shape: \(what)"
        }
    }
}
