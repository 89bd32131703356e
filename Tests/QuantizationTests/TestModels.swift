import Foundation
import ModelGraph
import TensorCore
import TestSupport
@testable import Quantization

/// Small in-memory models for tests that do not need golden weights.
enum TestModels {
    /// x[4] → fc1 (linear 4→6) → relu → fc2 (linear 6→3) → logits.
    static func tinyMLP(seed: UInt64 = 1) -> ModelPackage {
        let graph = Graph(name: "tiny", inputs: [ValueInfo(name: "x", shape: [-1, 4])], outputs: ["logits"], nodes: [
            Node(name: "fc1", op: .linear, inputs: ["x"], output: "h1", params: ["weight": "fc1.weight", "bias": "fc1.bias"]),
            Node(name: "act1", op: .relu, inputs: ["h1"], output: "a1"),
            Node(name: "fc2", op: .linear, inputs: ["a1"], output: "logits", params: ["weight": "fc2.weight", "bias": "fc2.bias"]),
        ])
        var tensors = TensorMap()
        tensors["fc1.weight"] = randomTensor([6, 4], seed: seed)
        tensors["fc1.bias"] = randomTensor([6], seed: seed + 1)
        tensors["fc2.weight"] = randomTensor([3, 6], seed: seed + 2)
        tensors["fc2.bias"] = randomTensor([3], seed: seed + 3)
        return ModelPackage(graph: graph, tensors: tensors)
    }

    static func histogram(_ values: [Float]) -> Histogram {
        var h = Histogram()
        h.observe(values)
        return h
    }

    static func tinyStatistics() -> [String: Histogram] {
        ["x": histogram(randomTensor([400], seed: 5, lower: -2, upper: 2).floats),
         "a1": histogram(randomTensor([600], seed: 6, lower: 0, upper: 3).floats)]
    }
}
