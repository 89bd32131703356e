import TensorCore

/// `torch.optim.AdamW`: decoupled weight decay θ ← θ(1 − lr·λ), then the Adam update without L2.
public struct AdamW: Optimizer {
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public var weightDecay: Float

    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01) throws {
        try AdamUpdate.validate(beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    public var stateBuffersPerParameter: Int { 2 }

    public func step(parameter: inout [Float], gradient: [Float], state: inout OptimizerState, learningRate: Float) {
        AdamUpdate.apply(parameter: &parameter, gradient: gradient, state: &state, learningRate: learningRate,
                         beta1: beta1, beta2: beta2, epsilon: epsilon, l2: 0, decay: 1 - learningRate * weightDecay)
    }

    public var summary: [String: JSONValue] {
        ["name": "adamw", "beta1": .float(beta1), "beta2": .float(beta2),
         "eps": .float(epsilon), "weight_decay": .float(weightDecay)]
    }
}
