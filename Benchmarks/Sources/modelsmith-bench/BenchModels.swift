import Dispatch
import ModelGraph
import TensorCore

// Models and inputs more than one benchmark uses.

/// An MLP with ReLU between layers (`widths[0]` inputs → … → `widths.last` outputs) and
/// PyTorch-style uniform(±1/√fan_in) random weights, seeded so every benchmark sees the same model.
func mlpPackage(widths: [Int]) -> ModelPackage {
    var tensors = TensorMap()
    var nodes: [Node] = []
    var previous = "x"
    for i in 0..<(widths.count - 1) {
        let bound = 1 / Float(widths[i]).squareRoot()
        tensors["fc\(i).weight"] = randomUniform([widths[i + 1], widths[i]], seed: UInt64(10 + i), scale: bound)
        tensors["fc\(i).bias"] = randomUniform([widths[i + 1]], seed: UInt64(20 + i), scale: bound)
        let last = i == widths.count - 2
        nodes.append(Node(name: "fc\(i)", op: .linear, inputs: [previous], output: last ? "y" : "h\(i)",
                          params: ["weight": "fc\(i).weight", "bias": "fc\(i).bias"]))
        if !last {
            nodes.append(Node(name: "relu\(i)", op: .relu, inputs: ["h\(i)"], output: "a\(i)"))
            previous = "a\(i)"
        }
    }
    let graph = Graph(name: "mlp", inputs: [ValueInfo(name: "x", shape: [-1, widths[0]])], outputs: ["y"], nodes: nodes)
    return ModelPackage(graph: graph, tensors: tensors)
}

/// Values uniform in [−scale, scale), seeded.
func randomUniform(_ dims: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var rng = SeededRNG(seed: seed)
    return Tensor((0..<dims.reduce(1, *)).map { _ in rng.uniform(-scale, scale) }, shape: Shape(dims))
}

/// Medians of `iterations` calls of `a` and of `b`, alternating, after warm-up calls of each.
func interleavedMedianSeconds(_ iterations: Int, _ a: () throws -> Void, _ b: () throws -> Void) rethrows -> (Double, Double) {
    for _ in 0..<max(3, iterations / 10) { try a(); try b() }
    var samplesA: [Double] = [], samplesB: [Double] = []
    for _ in 0..<iterations {
        var start = DispatchTime.now().uptimeNanoseconds
        try a()
        samplesA.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        start = DispatchTime.now().uptimeNanoseconds
        try b()
        samplesB.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    return (samplesA.sorted()[iterations / 2], samplesB.sorted()[iterations / 2])
}
