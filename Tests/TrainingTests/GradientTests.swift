import ModelGraph
import TensorCore
import TestSupport
import XCTest
@testable import Training

/// Every op's backward against finite differences (DESIGN §6, issue 6 scope 1).
final class GradientTests: XCTestCase {
    func random(_ shape: [Int], _ seed: UInt64) -> FloatArray { FloatArray(randomTensor(Shape(shape), seed: seed)) }

    func unary(_ op: OpKind, shape: [Int] = [3, 5], attrs: [String: JSONValue] = [:], input: FloatArray? = nil) throws {
        let g = singleNodeGraph(op, inputShapes: [shape], attrs: attrs)
        try assertGradientsMatchFiniteDifferences(g, tensors: TensorMap(), inputs: ["x0": input ?? awayFromZero(shape, seed: 1)])
    }

    func testLinear() throws {
        let g = singleNodeGraph(.linear, inputShapes: [[4, 6]], params: ["weight", "bias"])
        let t = tensorMap([("p.weight", random([3, 6], 2)), ("p.bias", random([3], 3))])
        try assertGradientsMatchFiniteDifferences(g, tensors: t, inputs: ["x0": random([4, 6], 1)])
    }

    func testLinearWithoutBiasOnRank3Input() throws {
        let g = singleNodeGraph(.linear, inputShapes: [[2, 3, 4]], params: ["weight"])
        try assertGradientsMatchFiniteDifferences(g, tensors: tensorMap([("p.weight", random([5, 4], 2))]), inputs: ["x0": random([2, 3, 4], 1)])
    }

    func conv(_ input: [Int], weight: [Int], attrs: [String: JSONValue], bias: Bool = true) throws {
        let g = singleNodeGraph(.conv2d, inputShapes: [input], params: bias ? ["weight", "bias"] : ["weight"], attrs: attrs)
        var t = tensorMap([("p.weight", random(weight, 2))])
        if bias { t["p.bias"] = random([weight[0]], 3).tensor }
        try assertGradientsMatchFiniteDifferences(g, tensors: t, inputs: ["x0": random(input, 1)])
    }

    func testConv2dPlain() throws { try conv([2, 2, 5, 5], weight: [3, 2, 3, 3], attrs: [:]) }
    func testConv2dStridePadding() throws { try conv([2, 2, 6, 5], weight: [3, 2, 3, 2], attrs: ["stride": [2, 1], "padding": [1, 2]]) }
    func testConv2dDilation() throws { try conv([1, 2, 7, 7], weight: [2, 2, 3, 3], attrs: ["dilation": 2, "padding": 1], bias: false) }
    func testConv2dGroups() throws { try conv([2, 4, 5, 5], weight: [6, 2, 3, 3], attrs: ["groups": 2, "padding": 1]) }
    func testConv2dDepthwise() throws { try conv([1, 3, 4, 4], weight: [3, 1, 3, 3], attrs: ["groups": 3, "stride": 2, "padding": 1]) }

    /// The backward pass that reuses the forward pass's column matrices equals the one that unfolds
    /// the input again, bit for bit (groups included); leaving out the input gradient changes nothing else.
    func testConvBackwardWithKeptColumnsEqualsRecomputed() throws {
        let spec = try ConvSpec(Node(name: "c", op: .conv2d, inputs: ["x"], output: "y", attrs: ["groups": 2, "padding": 1]))
        let geo = ConvGeometry(batch: 3, inChannels: 4, height: 6, width: 5, outChannels: 6, kernelH: 3, kernelW: 3, spec: spec)
        let x = random([3, 4, 6, 5], 1).values, w = random([6, 2, 3, 3], 2).values
        let (y, columns) = ConvMath.forward(x: x, w: w, bias: random([6], 3).values, geometry: geo)
        XCTAssertNotNil(columns)
        let dy = random([3, 6, geo.outH, geo.outW], 4).values
        XCTAssertEqual(dy.count, y.count)
        let kept = ConvMath.backward(dy: dy, x: x, w: w, geometry: geo, needsBias: true, columns: columns)
        let again = ConvMath.backward(dy: dy, x: x, w: w, geometry: geo, needsBias: true, columns: nil)
        let weightsOnly = ConvMath.backward(dy: dy, x: x, w: w, geometry: geo, needsBias: true, needsInput: false, columns: columns)
        XCTAssertEqual(kept.dx, again.dx)
        XCTAssertEqual(kept.dw.map(\.bitPattern), again.dw.map(\.bitPattern))
        XCTAssertEqual(kept.db, again.db)
        XCTAssertNil(weightsOnly.dx)
        XCTAssertEqual(weightsOnly.dw.map(\.bitPattern), kept.dw.map(\.bitPattern))
    }

    func testRelu() throws { try unary(.relu) }
    func testGeluErf() throws { try unary(.gelu) }
    func testGeluTanh() throws { try unary(.gelu, attrs: ["approximate": "tanh"]) }
    func testSigmoid() throws { try unary(.sigmoid) }
    func testTanh() throws { try unary(.tanh) }
    func testSilu() throws { try unary(.silu) }
    func testSoftmaxLastAxis() throws { try unary(.softmax, shape: [3, 5], attrs: ["axis": -1], input: random([3, 5], 4)) }
    func testSoftmaxMiddleAxis() throws { try unary(.softmax, shape: [2, 3, 4], attrs: ["axis": 1], input: random([2, 3, 4], 4)) }
    func testLogSoftmax() throws { try unary(.logSoftmax, shape: [4, 6], attrs: ["axis": 1], input: random([4, 6], 5)) }
    func testMaxPool() throws {
        try unary(.maxpool2d, shape: [2, 2, 5, 5], attrs: ["kernel": 2, "stride": 2], input: distinctValues([2, 2, 5, 5], seed: 6))
    }
    func testMaxPoolOverlappingPadded() throws {
        try unary(.maxpool2d, shape: [1, 2, 5, 5], attrs: ["kernel": 3, "stride": 1, "padding": 1], input: distinctValues([1, 2, 5, 5], seed: 7))
    }
    func testAvgPool() throws { try unary(.avgpool2d, shape: [2, 2, 6, 6], attrs: ["kernel": [3, 2], "stride": [2, 2], "padding": [1, 0]]) }
    func testAvgPoolExcludingPadding() throws {
        try unary(.avgpool2d, shape: [1, 2, 5, 5], attrs: ["kernel": 3, "stride": 2, "padding": 1, "count_include_pad": false])
    }
    func testGlobalAvgPool() throws { try unary(.globalAvgpool, shape: [2, 3, 4, 4]) }
    func testFlatten() throws { try unary(.flatten, shape: [2, 3, 2, 2], attrs: ["start_dim": 1]) }
    func testReshape() throws { try unary(.reshape, shape: [2, 12], attrs: ["shape": [0, -1, 4]]) }
    func testIdentity() throws { try unary(.identity) }
    func testDropoutTrainingMode() throws { try unary(.dropout, shape: [4, 8], attrs: ["p": 0.3]) }

    func testAddAndMul() throws {
        for op in [OpKind.add, .mul] {
            let g = singleNodeGraph(op, inputShapes: [[3, 4], [3, 4]])
            try assertGradientsMatchFiniteDifferences(g, tensors: TensorMap(), inputs: ["x0": random([3, 4], 1), "x1": random([3, 4], 2)])
        }
    }

    func testConcat() throws {
        let g = singleNodeGraph(.concat, inputShapes: [[2, 3, 2], [2, 1, 2], [2, 2, 2]], attrs: ["axis": 1])
        try assertGradientsMatchFiniteDifferences(g, tensors: TensorMap(),
            inputs: ["x0": random([2, 3, 2], 1), "x1": random([2, 1, 2], 2), "x2": random([2, 2, 2], 3)])
    }

    func testBatchNormTrainingMode() throws {
        let g = singleNodeGraph(.batchnorm2d, inputShapes: [[3, 2, 3, 3]], params: ["weight", "bias", "running_mean", "running_var"])
        let t = tensorMap([("p.weight", random([2], 2)), ("p.bias", random([2], 3)),
                           ("p.running_mean", FloatArray(zeros: [2])), ("p.running_var", FloatArray(shape: [2], values: [1, 1]))])
        try assertGradientsMatchFiniteDifferences(g, tensors: t, inputs: ["x0": random([3, 2, 3, 3], 1)])
    }

    func testLayerNorm() throws {
        let g = singleNodeGraph(.layernorm, inputShapes: [[3, 6]], params: ["weight", "bias"])
        let t = tensorMap([("p.weight", random([6], 2)), ("p.bias", random([6], 3))])
        try assertGradientsMatchFiniteDifferences(g, tensors: t, inputs: ["x0": random([3, 6], 1)])
    }

    func testLayerNormWithoutAffine() throws { try unary(.layernorm, shape: [2, 5], attrs: ["normalized_shape": [5]], input: random([2, 5], 8)) }

    /// A value read by three nodes (x feeds fc1, fc2 and the residual add): its gradient is the sum.
    func testFanOutAccumulates() throws {
        let nodes = [
            Node(name: "fc1", op: .linear, inputs: ["x"], output: "h1", params: ["weight": "fc1.weight", "bias": "fc1.bias"]),
            Node(name: "act", op: .tanh, inputs: ["h1"], output: "a1"),
            Node(name: "fc2", op: .linear, inputs: ["x"], output: "h2", params: ["weight": "fc2.weight"]),
            Node(name: "gate", op: .mul, inputs: ["a1", "h2"], output: "m"),
            Node(name: "res", op: .add, inputs: ["m", "x"], output: "r"),
            Node(name: "head", op: .linear, inputs: ["r"], output: "logits", params: ["weight": "fc1.weight"]),  // shared weight
        ]
        let g = Graph(name: "fan", inputs: [ValueInfo(name: "x", shape: [-1, 4])], outputs: ["logits", "m"], nodes: nodes)
        let t = tensorMap([("fc1.weight", random([4, 4], 2)), ("fc1.bias", random([4], 3)), ("fc2.weight", random([4, 4], 4))])
        try assertGradientsMatchFiniteDifferences(g, tensors: t, inputs: ["x": random([3, 4], 1)])
    }

    /// The golden CNN's structure (conv-relu-conv-relu-maxpool-flatten-linear-relu-linear), end to end.
    func testSmallCNNEndToEnd() throws {
        let conv: [String: JSONValue] = ["padding": 1]
        let nodes = [
            Node(name: "conv1", op: .conv2d, inputs: ["x"], output: "c1", params: ["weight": "conv1.weight", "bias": "conv1.bias"], attrs: conv),
            Node(name: "r1", op: .silu, inputs: ["c1"], output: "a1"),
            Node(name: "bn", op: .batchnorm2d, inputs: ["a1"], output: "b1",
                 params: ["weight": "bn.weight", "bias": "bn.bias", "running_mean": "bn.running_mean", "running_var": "bn.running_var"]),
            Node(name: "pool", op: .avgpool2d, inputs: ["b1"], output: "p", attrs: ["kernel": 2]),
            Node(name: "flat", op: .flatten, inputs: ["p"], output: "f"),
            Node(name: "fc", op: .linear, inputs: ["f"], output: "logits", params: ["weight": "fc.weight", "bias": "fc.bias"], attrs: ["out_features": 3]),
        ]
        let g = Graph(name: "cnn", inputs: [ValueInfo(name: "x", shape: [-1, 1, 4, 4])], outputs: ["logits"], nodes: nodes)
        let t = tensorMap([("conv1.weight", random([2, 1, 3, 3], 2)), ("conv1.bias", random([2], 3))])  // bn, fc initialised
        try assertGradientsMatchFiniteDifferences(g, tensors: t, inputs: ["x": random([3, 1, 4, 4], 1)])
    }
}

/// Forward values of the training engine's own forward rules where PyTorch semantics are subtle.
final class ForwardSemanticsTests: XCTestCase {
    func run(_ op: OpKind, _ x: FloatArray, attrs: [String: JSONValue]) throws -> [Float] {
        let model = try TrainableModel(graph: singleNodeGraph(op, inputShapes: [x.shape], attrs: attrs), tensors: TensorMap())
        return try model.infer(["x0": x])["y"]!.values
    }

    /// 2×2 input [1 2; 3 4], 3×3 window, stride 1, padding 1: every window holds all four values (sum 10).
    func testAvgPoolPaddingDivisor() throws {
        let x = FloatArray(shape: [1, 1, 2, 2], values: [1, 2, 3, 4])
        XCTAssertEqual(try run(.avgpool2d, x, attrs: ["kernel": 3, "stride": 1, "padding": 1]), [Float](repeating: 10 / 9, count: 4))
        XCTAssertEqual(try run(.avgpool2d, x, attrs: ["kernel": 3, "stride": 1, "padding": 1, "count_include_pad": false]),
                       [Float](repeating: 2.5, count: 4))
    }

    /// Max pooling pads with −∞: a window of only negative values and padding returns the value.
    func testMaxPoolPadsWithNegativeInfinity() throws {
        let x = FloatArray(shape: [1, 1, 2, 2], values: [-4, -3, -2, -1])
        XCTAssertEqual(try run(.maxpool2d, x, attrs: ["kernel": 2, "stride": 2, "padding": 1]), [-4, -3, -2, -1])
    }

    func testFlattenEndDim() throws {
        let model = try TrainableModel(graph: singleNodeGraph(.flatten, inputShapes: [[2, 3, 4, 5]], attrs: ["start_dim": 1, "end_dim": 2]),
                                       tensors: TensorMap())
        XCTAssertEqual(try model.infer(["x0": FloatArray(zeros: [2, 3, 4, 5])])["y"]!.shape, [2, 12, 5])
    }
}
