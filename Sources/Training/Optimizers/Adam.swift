import Foundation
import Kernels
import TensorCore

/// `torch.optim.Adam` (L2 weight decay added to the gradient):
/// m ← β₁m + (1−β₁)g; v ← β₂v + (1−β₂)g²; θ ← θ − (lr/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + ε).
public struct Adam: Optimizer {
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public var weightDecay: Float

    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0) throws {
        try AdamUpdate.validate(beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    public var stateBuffersPerParameter: Int { 2 }

    public func step(parameter: inout [Float], gradient: [Float], state: inout OptimizerState, learningRate: Float) {
        AdamUpdate.apply(parameter: &parameter, gradient: gradient, state: &state, learningRate: learningRate,
                         beta1: beta1, beta2: beta2, epsilon: epsilon, l2: weightDecay)
    }

    public var summary: [String: JSONValue] {
        ["name": "adam", "beta1": .float(beta1), "beta2": .float(beta2),
         "eps": .float(epsilon), "weight_decay": .float(weightDecay)]
    }
}

/// The moment update Adam and AdamW share.
enum AdamUpdate {
    static func validate(beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float) throws {
        guard beta1 >= 0, beta1 < 1 else { throw TrainingError.badHyperparameter(name: "beta1", reason: "must be in [0, 1), got \(beta1)") }
        guard beta2 >= 0, beta2 < 1 else { throw TrainingError.badHyperparameter(name: "beta2", reason: "must be in [0, 1), got \(beta2)") }
        guard epsilon >= 0 else { throw TrainingError.badHyperparameter(name: "eps", reason: "must be ≥ 0") }
        guard weightDecay >= 0 else { throw TrainingError.badHyperparameter(name: "--weight-decay", reason: "must be ≥ 0, got \(weightDecay)") }
    }

    /// One step on the C kernel (`TrainingKernels.adam`, bit-identical to its scalar reference);
    /// `decay` is AdamW's decoupled factor 1 − lr·λ (1 for Adam).
    static func apply(parameter: inout [Float], gradient: [Float], state: inout OptimizerState, learningRate: Float,
                      beta1: Float, beta2: Float, epsilon: Float, l2: Float, decay: Float = 1) {
        precondition(gradient.count == parameter.count, "gradient has \(gradient.count) values for \(parameter.count) parameters")
        if state.buffers.count != 2 { state.buffers = [[Float](repeating: 0, count: parameter.count), [Float](repeating: 0, count: parameter.count)] }
        state.step += 1
        let t = Float(state.step)
        let step = AdamStep(beta1: beta1, beta2: beta2, stepSize: learningRate / (1 - powf(beta1, t)),
                            bias2Sqrt: (1 - powf(beta2, t)).squareRoot(), epsilon: epsilon, l2: l2, decay: decay)
        var m = state.buffers[0], v = state.buffers[1]
        state.buffers = []  // keep m and v uniquely referenced while they are updated
        parameter.withUnsafeMutableBufferPointer { p in
            gradient.withUnsafeBufferPointer { g in
                m.withUnsafeMutableBufferPointer { m in
                    v.withUnsafeMutableBufferPointer { v in
                        guard let pp = p.baseAddress else { return }
                        TrainingKernels.adam(pp, gradient: g.baseAddress!, m: m.baseAddress!, v: v.baseAddress!, count: p.count, step)
                    }
                }
            }
        }
        state.buffers = [m, v]
    }
}
