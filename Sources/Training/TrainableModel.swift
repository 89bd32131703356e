import ModelGraph
import TensorCore

/// A graph with its parameters held as trainable f32 arrays: runs forward passes that keep what the
/// backward pass needs, and the backward pass in reverse topological order.
///
/// ```swift
/// var model = try TrainableModel(graph: graph, tensors: weights, initSeed: 0)
/// let tape = try model.forward(["x": batch], mode: .training(seed: 7))
/// let grads = try model.backward(tape, outputGradients: ["logits": dLoss])
/// ```
public struct TrainableModel: Sendable {
    public let graph: Graph
    /// Learnable tensors (linear/conv/norm weights and biases) by tensor name.
    public var parameters: [String: FloatArray]
    /// Non-learnable state (batchnorm running statistics) by tensor name.
    public var buffers: [String: FloatArray]
    /// Learnable tensor names in a stable order (node order, weight before bias).
    public let parameterNames: [String]
    /// Pruning masks (1 keeps) by parameter name; masked entries stay exactly zero.
    public let masks: [String: [Float]]
    /// Tensors no node references, carried through unchanged.
    public let passthrough: TensorMap
    /// Names of parameters that were absent and got PyTorch's default initialisation.
    public let initialized: [String]
    /// Multiply-adds of the linear and conv2d products for one sample (forward pass): a cost estimate.
    public let multiplyAddsPerSample: Int

    /// Wraps a graph and its tensors. Absent parameters are initialised as PyTorch initialises
    /// `nn.Linear`/`nn.Conv2d`/norm layers (seeded by `initSeed`); their shapes come from the graph's
    /// input shapes and the `out_features` (linear) / `out_channels` + `kernel` (conv2d) attributes.
    public init(graph: Graph, tensors: TensorMap, masks: TensorMap = TensorMap(), initSeed: UInt64 = 0) throws {
        self.graph = graph
        var parameters: [String: FloatArray] = [:]
        var buffers: [String: FloatArray] = [:]
        var names: [String] = []
        var initialized: [String] = []
        var rng = SeededRNG(seed: initSeed)
        var multiplyAdds = 0
        // One pass over a batch of one sample gives every value's shape, so absent params can be created.
        var values: [String: FloatArray] = [:]
        for input in graph.inputs {
            let trailing = input.shape.dropFirst()
            guard trailing.allSatisfy({ $0 > 0 }) else {
                throw TrainingError.badInput(name: input.name, reason: "only the batch dimension may be dynamic, shape \(input.shape)")
            }
            values[input.name] = FloatArray(zeros: [1] + trailing)
        }
        for (index, node) in graph.nodes.enumerated() {
            guard OpRules.isDifferentiable(node.op) else { throw TrainingError.notDifferentiable(node: node.name, op: node.op.rawValue) }
            let inputs = try node.inputs.map { name -> FloatArray in
                guard let v = values[name] else { throw TrainingError.badInput(name: name, reason: "not produced before node '\(node.name)'") }
                return v
            }
            var roleValues: [String: FloatArray] = [:]
            for role in node.params.keys.sorted(by: ParameterInit.roleOrder) {
                let tensorName = node.params[role]!
                let isBuffer = !(node.op.spec.params[role]?.isLearned ?? true)
                if let existing = parameters[tensorName] ?? buffers[tensorName] {
                    roleValues[role] = existing
                    continue
                }
                let value: FloatArray
                if let tensor = tensors[tensorName] {
                    value = FloatArray(tensor)
                } else {
                    value = try ParameterInit.initialValue(node: node, role: role, input: inputs[0], weight: roleValues["weight"], rng: &rng)
                    initialized.append(tensorName)
                }
                roleValues[role] = value
                if isBuffer { buffers[tensorName] = value } else { parameters[tensorName] = value; names.append(tensorName) }
            }
            let output = try OpRules.forward(node, index: index, inputs: inputs, constantInputs: constantInputs(node, graph),
                                             params: roleValues, mode: .inference).output
            values[node.output] = output
            if node.op == .linear || node.op == .conv2d, let w = roleValues["weight"] {
                multiplyAdds += w.count * (node.op == .conv2d ? output.shape.dropFirst(2).reduce(1, *) : 1)
            }
        }
        var maskValues: [String: [Float]] = [:]
        for (name, mask) in masks {
            guard var p = parameters[name] else { continue }
            guard mask.shape.dims == p.shape else {
                throw TrainingError.shapeMismatch(node: name, reason: "mask has shape \(mask.shape.dims) but the parameter has \(p.shape)")
            }
            let m = mask.floats.map { $0 != 0 ? Float(1) : 0 }
            p.values = zip(p.values, m).map(*)
            parameters[name] = p
            maskValues[name] = m
        }
        var passthrough = TensorMap()
        for (name, tensor) in tensors where parameters[name] == nil && buffers[name] == nil { passthrough[name] = tensor }
        self.parameters = parameters
        self.buffers = buffers
        self.parameterNames = names
        self.masks = maskValues
        self.passthrough = passthrough
        self.initialized = initialized
        self.multiplyAddsPerSample = multiplyAdds
    }

    /// Every tensor (learned parameters and buffers as f32, then passthrough tensors), in node order.
    public var tensors: TensorMap {
        var map = TensorMap()
        for node in graph.nodes {
            for role in node.params.keys.sorted(by: ParameterInit.roleOrder) {
                let name = node.params[role]!
                if let p = parameters[name] ?? buffers[name], !map.contains(name) { map[name] = p.tensor }
            }
        }
        for (name, tensor) in passthrough { map[name] = tensor }
        return map
    }

    /// The masks as bool tensors, for the output package.
    public var maskTensors: TensorMap {
        var map = TensorMap()
        for name in parameterNames {
            guard let m = masks[name], let p = parameters[name] else { continue }
            var t = Tensor(zeros: .bool, Shape(p.shape))
            t.withUnsafeMutableBufferPointer(of: UInt8.self) { dst in for i in m.indices { dst[i] = m[i] != 0 ? 1 : 0 } }
            map[name] = t
        }
        return map
    }

    private func roleValues(_ node: Node) -> [String: FloatArray] {
        var out: [String: FloatArray] = [:]
        for (role, name) in node.params { out[role] = parameters[name] ?? buffers[name] }
        return out
    }

    private func gatherInputs(_ inputs: [String: FloatArray]) throws -> [String: FloatArray] {
        var values: [String: FloatArray] = [:]
        for info in graph.inputs {
            guard let v = inputs[info.name] else { throw TrainingError.badInput(name: info.name, reason: "not supplied") }
            guard v.shape.count == info.shape.count, zip(v.shape.dropFirst(), info.shape.dropFirst()).allSatisfy({ $1 < 0 || $0 == $1 }) else {
                throw TrainingError.badInput(name: info.name, reason: "shape \(v.shape) does not fit the graph input \(info.shape)")
            }
            values[info.name] = v
        }
        return values
    }

    /// Inference: graph inputs → graph outputs (dropout off, batchnorm on running statistics).
    public func infer(_ inputs: [String: FloatArray]) throws -> [String: FloatArray] {
        var values = try gatherInputs(inputs)
        let consumers = remainingUses()
        var uses = consumers
        for (index, node) in graph.nodes.enumerated() {
            let args = node.inputs.map { values[$0]! }
            values[node.output] = try OpRules.forward(node, index: index, inputs: args, constantInputs: constantInputs(node, graph),
                                                      params: roleValues(node), mode: .inference).output
            for input in node.inputs {  // free intermediates once their last reader has run
                uses[input, default: 0] -= 1
                if uses[input] == 0, !graph.outputs.contains(input) { values[input] = nil }
            }
        }
        return Dictionary(uniqueKeysWithValues: graph.outputs.map { ($0, values[$0]!) })
    }

    private func remainingUses() -> [String: Int] {
        var uses: [String: Int] = [:]
        for node in graph.nodes { for input in node.inputs { uses[input, default: 0] += 1 } }
        return uses
    }

    /// Training-mode forward pass; keeps every node's saved values for `backward` and updates the
    /// batchnorm running statistics (as PyTorch does in `train()` mode).
    public mutating func forward(_ inputs: [String: FloatArray], mode: ForwardMode) throws -> Tape {
        var values = try gatherInputs(inputs)
        var saved: [SavedForward] = []
        saved.reserveCapacity(graph.nodes.count)
        for (index, node) in graph.nodes.enumerated() {
            let record = try OpRules.forward(node, index: index, inputs: node.inputs.map { values[$0]! },
                                             constantInputs: constantInputs(node, graph), params: roleValues(node), mode: mode)
            for (role, update) in record.bufferUpdates {
                if let name = node.params[role] { buffers[name]?.values = update }
            }
            values[node.output] = record.output
            saved.append(record)
        }
        return Tape(outputs: Dictionary(uniqueKeysWithValues: graph.outputs.map { ($0, values[$0]!) }), saved: saved)
    }

    /// Backward pass: from the gradients of graph outputs, the gradients of every parameter (masked)
    /// and, with `inputGradients`, of every graph input. Gradients add up where a value feeds several
    /// nodes. Without `inputGradients` (training), no work is spent on values that only lead back to
    /// the graph inputs (e.g. the first convolution's input gradient).
    public func backward(_ tape: Tape, outputGradients: [String: FloatArray], inputGradients: Bool = true) throws -> Gradients {
        let needed = valuesNeedingGradients(inputGradients: inputGradients)
        var grads: [String: [Float]] = [:]
        for (name, g) in outputGradients {
            guard let out = tape.outputs[name], out.shape == g.shape else {
                throw TrainingError.badInput(name: name, reason: "gradient shape \(g.shape) does not match the output")
            }
            grads[name] = g.values
        }
        var paramGrads: [String: [Float]] = [:]
        for (index, node) in graph.nodes.enumerated().reversed() {
            guard let g = grads.removeValue(forKey: node.output) else { continue }  // does not reach the loss
            let saved = tape.saved[index]
            let needsInputs = node.inputs.contains { needed.contains($0) }
            let r = try OpRules.backward(node, dy: FloatArray(shape: saved.output.shape, values: g), saved: saved, params: roleValues(node),
                                         needsInputGradients: needsInputs)
            for (input, gi) in zip(node.inputs, r.inputs) {
                guard let gi, needed.contains(input) else { continue }
                accumulate(&grads, input, gi)
            }
            for (role, gp) in r.params {
                guard let name = node.params[role], parameters[name] != nil else { continue }
                accumulate(&paramGrads, name, gp)
            }
        }
        var result = Gradients()
        for (name, g) in paramGrads {
            let masked = masks[name].map { zip(g, $0).map(*) } ?? g
            result.parameters[name] = FloatArray(shape: parameters[name]!.shape, values: masked)
        }
        for info in graph.inputs { result.inputs[info.name] = grads[info.name] }
        return result
    }

    /// Values whose gradient reaches a parameter (or a graph input, with `inputGradients`): outputs of
    /// nodes with learnable parameters and everything computed from them.
    private func valuesNeedingGradients(inputGradients: Bool) -> Set<String> {
        var needed: Set<String> = inputGradients ? Set(graph.inputs.map(\.name)) : []
        for node in graph.nodes {
            let learns = node.params.values.contains { parameters[$0] != nil }
            if learns || node.inputs.contains(where: { needed.contains($0) }) { needed.insert(node.output) }
        }
        return needed
    }

    private func accumulate(_ grads: inout [String: [Float]], _ name: String, _ g: [Float]) {
        if var existing = grads.removeValue(forKey: name) {
            existing.withUnsafeMutableBufferPointer { e in for i in e.indices { e[i] += g[i] } }
            grads[name] = existing
        } else {
            grads[name] = g
        }
    }

    /// Sets masked entries of every masked parameter back to exactly zero.
    public mutating func applyMasks() {
        for (name, mask) in masks {
            guard var p = parameters[name] else { continue }
            p.values.withUnsafeMutableBufferPointer { v in for i in v.indices where mask[i] == 0 { v[i] = 0 } }
            parameters[name] = p
        }
    }
}

/// Which of `node`'s inputs are `constant` values (no batch dimension).
private func constantInputs(_ node: Node, _ graph: Graph) -> [Bool] {
    node.inputs.map { graph.producer(of: $0)?.op == .constant }
}

/// What a training-mode forward pass keeps: the outputs and every node's saved values.
public struct Tape: Sendable {
    public let outputs: [String: FloatArray]
    let saved: [SavedForward]
}


/// Gradients of a backward pass: parameters by tensor name, graph inputs by name (as flat values).
public struct Gradients: Sendable {
    public var parameters: [String: FloatArray] = [:]
    public var inputs: [String: [Float]] = [:]
}
