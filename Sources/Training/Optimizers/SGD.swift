import TensorCore

/// `torch.optim.SGD`: g ← g + λθ; with momentum μ, b ← g on the first step, then b ← μb + (1−dampening)g;
/// Nesterov uses g + μb, plain momentum uses b; θ ← θ − lr·g.
public struct SGD: Optimizer {
    public var momentum: Float
    public var dampening: Float
    public var nesterov: Bool
    public var weightDecay: Float

    public init(momentum: Float = 0, dampening: Float = 0, nesterov: Bool = false, weightDecay: Float = 0) throws {
        guard momentum >= 0 else { throw TrainingError.badHyperparameter(name: "--momentum", reason: "must be ≥ 0, got \(momentum)") }
        guard weightDecay >= 0 else { throw TrainingError.badHyperparameter(name: "--weight-decay", reason: "must be ≥ 0, got \(weightDecay)") }
        guard !nesterov || (momentum > 0 && dampening == 0) else {
            throw TrainingError.badHyperparameter(name: "--nesterov", reason: "needs momentum > 0 and zero dampening")
        }
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.weightDecay = weightDecay
    }

    public var stateBuffersPerParameter: Int { momentum != 0 ? 1 : 0 }

    public func step(parameter: inout [Float], gradient: [Float], state: inout OptimizerState, learningRate: Float) {
        if momentum != 0 && state.buffers.isEmpty { state.buffers = [[Float](repeating: 0, count: parameter.count)] }
        let first = state.step == 0
        state.step += 1
        for i in parameter.indices {
            var g = gradient[i] + weightDecay * parameter[i]
            if momentum != 0 {
                let b = first ? g : momentum * state.buffers[0][i] + (1 - dampening) * g
                state.buffers[0][i] = b
                g = nesterov ? g + momentum * b : b
            }
            parameter[i] -= learningRate * g
        }
    }

    public var summary: [String: JSONValue] {
        ["name": "sgd", "momentum": .float(momentum), "dampening": .float(dampening),
         "nesterov": .bool(nesterov), "weight_decay": .float(weightDecay)]
    }
}
