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

        for i in planned.indices where !removed.contains(i) {
            let node = planned[i].node
            if node.op == .conv2d, isFloat(node, tensors), let bn = soleReader(of: node.output, op: .batchnorm2d) {
                planned[i].foldedBatchNorm = graph.nodes[bn]
                fusedAway[node.output] = node.name
                planned[i].node.output = graph.nodes[bn].output
                removed.insert(bn)
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
