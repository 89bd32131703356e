import Kernels
import ModelGraph
import TensorCore

/// Plan-time rewrites (docs/runtime.md, "Planning"): a batchnorm2d folds into the conv2d before it,
/// and a relu — or, after an f32 layer, a clip with min ≤ 0 ≤ max (ReLU6) or a hardswish — fuses
/// into the linear/conv2d before it as a oneDNN post-op, when that node's output has no other
/// reader and is not a graph output. Returns the planned nodes in order and the values that no longer exist
/// (value → the node it was fused into).
enum Fusion {
    static func plan(_ graph: Graph, tensors: TensorMap, enabled: Bool) -> (nodes: [PlannedNode], fusedAway: [String: String]) {
        var planned = graph.nodes.map { PlannedNode(node: $0) }
        guard enabled else { return (planned, [:]) }
        var readers: [String: [Int]] = [:]
        for (i, node) in graph.nodes.enumerated() {
            for input in Set(node.inputs) { readers[input, default: []].append(i) }
        }
        let outputs = Set(graph.outputs)
        var removed = Set<Int>()
        var fusedAway: [String: String] = [:]

        /// The single reader of `value` if it has exactly one, of kind `op`, and `value` is not a graph output.
        func soleReader(of value: String, op: OpKind) -> Int? {
            guard !outputs.contains(value), let list = readers[value], list.count == 1,
                  graph.nodes[list[0]].op == op, graph.nodes[list[0]].inputs.count == 1 else { return nil }
            return list[0]
        }

        /// The activation reading `layer`'s output that can become its post-op. Clip and hardswish
        /// only after f32 layers (the INT8 epilogues fuse ReLU alone), and only a clip that keeps 0
        /// at 0, so zero-padded channels of blocked layouts stay zero (docs/runtime.md, "Layouts").
        func activation(after layer: Node) -> (Int, PostOp)? {
            if let relu = soleReader(of: layer.output, op: .relu) { return (relu, .relu) }
            guard isFloat(layer, tensors) else { return nil }
            if let clip = soleReader(of: layer.output, op: .clip), let a = try? ClipAttributes(graph.nodes[clip]), a.min <= 0, a.max >= 0 {
                return (clip, .clip(min: Float(a.min), max: Float(a.max)))
            }
            if let hardSwish = soleReader(of: layer.output, op: .hardswish) { return (hardSwish, .hardSwish) }
            return nil
        }

        var producer: [String: Int] = [:]
        for (i, node) in graph.nodes.enumerated() { producer[node.output] = i }
        /// The f32 tensor a `constant` node writes into `value`, if that is how `value` is made.
        func constant(_ value: String) -> (name: String, tensor: Tensor)? {
            guard let p = producer[value], graph.nodes[p].op == .constant, let name = graph.nodes[p].params["value"],
                  let tensor = tensors[name], tensor.dtype == .f32 else { return nil }
            return (name, tensor)
        }
        func scalar(_ value: String) -> Float? {
            guard let c = constant(value), c.tensor.elementCount == 1 else { return nil }
            return c.tensor.floats[0]
        }
        /// The node reading `value` if it is the only one (and `value` is not a graph output or fused already).
        func onlyReader(of value: String, op: OpKind) -> Int? {
            guard !outputs.contains(value), let list = readers[value], list.count == 1, !removed.contains(list[0]),
                  graph.nodes[list[0]].op == op else { return nil }
            return list[0]
        }
        /// The operand of the binary node `index` other than `value`.
        func other(_ index: Int, than value: String) -> String? {
            let inputs = graph.nodes[index].inputs
            guard inputs.count == 2, inputs.contains(value) else { return nil }
            return inputs[0] == value ? inputs[1] : inputs[0]
        }
        /// Replaces the chain `first … last` by `node` at `first`'s place (docs/runtime.md, "Planning").
        func collapse(_ chain: [Int], into node: Node) {
            planned[chain[0]] = PlannedNode(node: node)
            for index in chain.dropFirst() { removed.insert(index) }
            for index in chain.dropLast() { fusedAway[graph.nodes[index].output] = node.name }
        }

        /// `reduce_mean(x) → sub → pow 2 → reduce_mean → add ε → sqrt → div → mul γ → add β` over the last axis
        /// (PyTorch's layer_norm as ONNX exports it before opset 17) → one `layernorm`.
        func decomposedLayerNorm(at i: Int) -> ([Int], Node)? {
            let mean = graph.nodes[i]
            guard mean.op == .reduceMean, mean.inputs.count == 1, let a = try? ReduceAttributes(mean), a.axes == [-1], a.keepDims,
                  let x = mean.inputs.first, let centred = onlyReader(of: mean.output, op: .sub),
                  graph.nodes[centred].inputs == [x, mean.output],
                  let uses = readers[graph.nodes[centred].output], uses.count == 2, !outputs.contains(graph.nodes[centred].output),
                  let square = uses.first(where: { graph.nodes[$0].op == .pow }), let divide = uses.first(where: { graph.nodes[$0].op == .div }),
                  graph.nodes[square].inputs.first == graph.nodes[centred].output, scalar(graph.nodes[square].inputs[1]) == 2,
                  let variance = onlyReader(of: graph.nodes[square].output, op: .reduceMean),
                  let v = try? ReduceAttributes(graph.nodes[variance]), v.axes == [-1], v.keepDims,
                  let addEps = onlyReader(of: graph.nodes[variance].output, op: .add),
                  let eps = other(addEps, than: graph.nodes[variance].output).flatMap(scalar), eps > 0,
                  let root = onlyReader(of: graph.nodes[addEps].output, op: .sqrt), onlyReader(of: graph.nodes[root].output, op: .div) == divide,
                  graph.nodes[divide].inputs == [graph.nodes[centred].output, graph.nodes[root].output],
                  let scale = onlyReader(of: graph.nodes[divide].output, op: .mul),
                  let gamma = other(scale, than: graph.nodes[divide].output).flatMap(constant), gamma.tensor.shape.rank == 1,
                  let shift = onlyReader(of: graph.nodes[scale].output, op: .add),
                  let beta = other(shift, than: graph.nodes[scale].output).flatMap(constant), beta.tensor.shape == gamma.tensor.shape
            else { return nil }
            let chain = [i, centred, square, variance, addEps, root, divide, scale, shift]
            guard chain.allSatisfy({ !removed.contains($0) }) else { return nil }
            return (chain, Node(name: mean.name, op: .layernorm, inputs: [x], output: graph.nodes[shift].output,
                                params: ["weight": gamma.name, "bias": beta.name], attrs: ["eps": .number(Double(eps))]))
        }

        /// `x · 0.5 · (1 + erf(x / √2))` → one `gelu` (exact form).
        func decomposedGelu(at i: Int) -> ([Int], Node)? {
            let divide = graph.nodes[i]
            guard divide.op == .div, divide.inputs.count == 2, let root2 = scalar(divide.inputs[1]), abs(root2 - Float(2).squareRoot()) < 1e-6,
                  let x = divide.inputs.first, let erf = onlyReader(of: divide.output, op: .erf),
                  let plusOne = onlyReader(of: graph.nodes[erf].output, op: .add), other(plusOne, than: graph.nodes[erf].output).flatMap(scalar) == 1,
                  let times = onlyReader(of: graph.nodes[plusOne].output, op: .mul), other(times, than: graph.nodes[plusOne].output) == x,
                  let half = onlyReader(of: graph.nodes[times].output, op: .mul), other(half, than: graph.nodes[times].output).flatMap(scalar) == 0.5
            else { return nil }
            let chain = [i, erf, plusOne, times, half]
            guard chain.allSatisfy({ !removed.contains($0) }) else { return nil }
            return (chain, Node(name: divide.name, op: .gelu, inputs: [x], output: graph.nodes[half].output))
        }

        for i in planned.indices where !removed.contains(i) {
            if let (chain, layerNorm) = decomposedLayerNorm(at: i) {
                collapse(chain, into: layerNorm)
            } else if let (chain, gelu) = decomposedGelu(at: i) {
                collapse(chain, into: gelu)
            }
        }

        for i in planned.indices where !removed.contains(i) {
            let node = planned[i].node
            if node.op == .conv2d, isFloat(node, tensors), let bn = soleReader(of: node.output, op: .batchnorm2d) {
                planned[i].foldedBatchNorm = graph.nodes[bn]
                fusedAway[node.output] = node.name
                planned[i].node.output = graph.nodes[bn].output
                removed.insert(bn)
            }
            if node.op == .linear, node.params["bias"] == nil, isFloat(node, tensors), let add = onlyReader(of: node.output, op: .add),
               let bias = other(add, than: node.output).flatMap(constant), bias.tensor.shape.rank == 1,
               bias.tensor.elementCount == tensors[node.params["weight"]!]!.shape[0] {
                // A constant bias added after a matmul (ONNX MatMul + Add) becomes the linear's own.
                planned[i].node.params["bias"] = bias.name
                fusedAway[node.output] = node.name
                planned[i].node.output = graph.nodes[add].output
                removed.insert(add)
            }
            let current = planned[i].node
            guard current.op == .linear || current.op == .conv2d else { continue }
            if let (reader, postOp) = activation(after: current) {
                planned[i].postOp = postOp
                fusedAway[current.output] = current.name
                planned[i].node.output = graph.nodes[reader].output
                removed.insert(reader)
            }
        }
        let kept = planned.indices.filter { !removed.contains($0) }.map { planned[$0] }
        return (kept, fusedAway)
    }

    private static func isFloat(_ node: Node, _ tensors: TensorMap) -> Bool {
        guard let name = node.params["weight"], let weight = tensors[name] else { return false }
        return weight.dtype == .f32
    }
}
