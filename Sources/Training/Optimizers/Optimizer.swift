import TensorCore

/// Per-parameter optimizer state: the number of steps taken and the moment buffers (empty until the
/// first step). Codable so checkpoints can restore it exactly.
public struct OptimizerState: Codable, Sendable, Equatable {
    public var step: Int = 0
    public var buffers: [[Float]] = []
    public init() {}
}

/// An update rule (DESIGN §7: `newState`, `step`), applied to one parameter tensor at a time.
/// Formulas are PyTorch's `torch.optim` ones (non-foreach, non-fused, `maximize=False`).
public protocol Optimizer: Sendable {
    /// State for a parameter of `count` elements before its first step.
    func newState(count: Int) -> OptimizerState
    /// Updates `parameter` in place from `gradient` at learning rate `learningRate`.
    func step(parameter: inout [Float], gradient: [Float], state: inout OptimizerState, learningRate: Float)
    /// Name and hyperparameters, for provenance.
    var summary: [String: JSONValue] { get }
    /// Moment buffers the state keeps per parameter, each as large as the parameter (memory budget).
    var stateBuffersPerParameter: Int { get }
}

extension Optimizer {
    public func newState(count: Int) -> OptimizerState { OptimizerState() }
}
