import ModelGraph
import TensorCore
import TestSupport
import XCTest
@testable import Training

/// The op layer's gradient coverage (docs/architecture.md, "Adding an op"): every op with a gradient
/// rule has a finite-difference check here, and every op without one is refused by name.
final class OpGradientCoverageTests: XCTestCase {
    func random(_ shape: [Int], _ seed: UInt64) -> FloatArray { FloatArray(randomTensor(Shape(shape), seed: seed)) }

    func single(_ op: OpKind, _ shape: [Int] = [2, 3, 4], attrs: [String: JSONValue] = [:], input: FloatArray? = nil) throws {
        let g = singleNodeGraph(op, inputShapes: [shape], attrs: attrs)
        try assertGradientsMatchFiniteDifferences(g, tensors: TensorMap(), inputs: ["x0": input ?? awayFromZero(shape, seed: 1)])
    }

    func positive(_ shape: [Int]) -> FloatArray {
        FloatArray(shape: shape, values: awayFromZero(shape, seed: 4).values.map { Swift.abs($0) + 0.5 })
    }

    /// `x0 ∘ constant` with a batchless constant broadcast over the batch.
    func withConstant(_ op: OpKind) throws {
        let graph = Graph(name: "t", inputs: [ValueInfo(name: "x0", shape: [-1, 3, 4])], outputs: ["y"], nodes: [
            Node(name: "k", op: .constant, inputs: [], output: "k", params: ["value": "k"]),
            Node(name: "n", op: op, inputs: ["x0", "k"], output: "y"),
        ])
        try assertGradientsMatchFiniteDifferences(graph, tensors: tensorMap([("k", random([3, 1], 9))]), inputs: ["x0": random([2, 3, 4], 1)])
    }

    func twoInputs(_ op: OpKind) throws {
        let g = singleNodeGraph(op, inputShapes: [[2, 3, 4], [2, 3, 4]])
        try assertGradientsMatchFiniteDifferences(g, tensors: TensorMap(), inputs: ["x0": random([2, 3, 4], 1), "x1": random([2, 3, 4], 2)])
    }

    /// One check per differentiable op (the older layer ops are checked in depth in `GradientTests`).
    var checks: [OpKind: () throws -> Void] {
        [
            .constant: { try self.withConstant(.mul) },
            .linear: {
                let g = singleNodeGraph(.linear, inputShapes: [[4, 6]], params: ["weight", "bias"])
                try assertGradientsMatchFiniteDifferences(g, tensors: tensorMap([("p.weight", self.random([3, 6], 2)), ("p.bias", self.random([3], 3))]),
                                                         inputs: ["x0": self.random([4, 6], 1)])
            },
            .conv2d: {
                let g = singleNodeGraph(.conv2d, inputShapes: [[2, 2, 5, 5]], params: ["weight"], attrs: ["padding": 1])
                try assertGradientsMatchFiniteDifferences(g, tensors: tensorMap([("p.weight", self.random([3, 2, 3, 3], 2))]),
                                                         inputs: ["x0": self.random([2, 2, 5, 5], 1)])
            },
            .batchnorm2d: {
                let g = singleNodeGraph(.batchnorm2d, inputShapes: [[3, 2, 3, 3]], params: ["weight", "bias", "running_mean", "running_var"])
                let t = tensorMap([("p.weight", self.random([2], 2)), ("p.bias", self.random([2], 3)),
                                   ("p.running_mean", self.random([2], 4)), ("p.running_var", self.positive([2]))])
                try assertGradientsMatchFiniteDifferences(g, tensors: t, inputs: ["x0": self.random([3, 2, 3, 3], 1)])
            },
            .layernorm: { try self.single(.layernorm, attrs: ["normalized_shape": [4]]) },
            .relu: { try self.single(.relu) },
            .gelu: { try self.single(.gelu) },
            .sigmoid: { try self.single(.sigmoid) },
            .tanh: { try self.single(.tanh) },
            .silu: { try self.single(.silu) },
            .clip: { try self.single(.clip, attrs: ["min": -0.5, "max": 0.5], input: self.awayFrom([-0.5, 0.5])) },
            .hardsigmoid: { try self.single(.hardsigmoid, input: self.scaled(4)) },
            .hardswish: { try self.single(.hardswish, input: self.awayFrom([-3, 3], scale: 5)) },
            .leakyRelu: { try self.single(.leakyRelu, attrs: ["alpha": 0.2]) },
            .erf: { try self.single(.erf) },
            .sqrt: { try self.single(.sqrt, input: self.positive([2, 3, 4])) },
            .reciprocal: { try self.single(.reciprocal, input: self.positive([2, 3, 4])) },
            .exp: { try self.single(.exp) },
            .log: { try self.single(.log, input: self.positive([2, 3, 4])) },
            .neg: { try self.single(.neg) },
            .abs: { try self.single(.abs) },
            .add: { try self.twoInputs(.add); try self.withConstant(.add) },
            .sub: { try self.twoInputs(.sub); try self.withConstant(.sub) },
            .mul: { try self.twoInputs(.mul) },
            .softmax: { try self.single(.softmax, attrs: ["axis": 1]) },
            .logSoftmax: { try self.single(.logSoftmax) },
            .maxpool2d: { try self.single(.maxpool2d, [2, 2, 4, 4], attrs: ["kernel": 2], input: distinctValues([2, 2, 4, 4], seed: 3)) },
            .avgpool2d: { try self.single(.avgpool2d, [2, 2, 4, 4], attrs: ["kernel": 2, "padding": 1, "stride": 1]) },
            .globalAvgpool: { try self.single(.globalAvgpool, [2, 2, 3, 3]) },
            .flatten: { try self.single(.flatten) },
            .reshape: { try self.single(.reshape, attrs: ["shape": [-1, 4, 3]]) },
            .squeeze: { try self.single(.squeeze, [2, 3, 1, 4], attrs: ["axes": [2]]) },
            .unsqueeze: { try self.single(.unsqueeze, attrs: ["axes": [1]]) },
            .transpose: { try self.single(.transpose, attrs: ["perm": [0, 2, 1]]) },
            .concat: {
                let g = singleNodeGraph(.concat, inputShapes: [[2, 3, 4], [2, 2, 4]], attrs: ["axis": 1])
                try assertGradientsMatchFiniteDifferences(g, tensors: TensorMap(), inputs: ["x0": self.random([2, 3, 4], 1), "x1": self.random([2, 2, 4], 2)])
            },
            .dropout: { try self.single(.dropout, attrs: ["p": 0.3]) },
            .identity: { try self.single(.identity) },
        ]
    }

    func scaled(_ factor: Float) -> FloatArray {
        let x = awayFromZero([2, 3, 4], seed: 5)
        return FloatArray(shape: x.shape, values: x.values.map { $0 * factor })
    }

    /// Values spread over ±`scale` kept at least 0.05 away from each kink.
    func awayFrom(_ kinks: [Float], scale: Float = 1) -> FloatArray {
        let x = scaled(scale)
        return FloatArray(shape: x.shape, values: x.values.map { v in
            kinks.reduce(v) { v, k in Swift.abs(v - k) < 0.05 ? k + (v < k ? -0.05 : 0.05) : v }
        })
    }

    func testEveryDifferentiableOpHasAGradientCheck() throws {
        let differentiable = Set(OpKind.allCases.filter(OpRules.isDifferentiable))
        XCTAssertEqual(Set(checks.keys), differentiable, "differentiable ops and gradient checks differ")
        for (op, check) in checks.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            XCTAssertNoThrow(try check(), op.rawValue)
        }
    }

    func testOpsWithoutGradientAreRefusedByName() throws {
        for op in OpKind.allCases where !OpRules.isDifferentiable(op) {
            let attrs: [String: JSONValue] = [.pad: ["pads": [0, 1, 0, 1]], .slice: ["starts": [1], "ends": [2], "axes": [1]],
                                              .expand: ["shape": [1, 3]]][op] ?? [:]
            let shape = op == .globalMaxpool ? [2, 3, 2, 2] : (op == .matmul ? [2, 3, 3] : [2, 3])
            let arity = op.spec.inputs.lowerBound
            let g = singleNodeGraph(op, inputShapes: [[Int]](repeating: shape, count: arity), attrs: attrs)
            XCTAssertThrowsError(try TrainableModel(graph: g, tensors: TensorMap()), op.rawValue) { error in
                XCTAssertEqual("\(error)", "node 'n': op \(op.rawValue) has no gradient rule, so the graph cannot be trained")
            }
        }
    }
}
