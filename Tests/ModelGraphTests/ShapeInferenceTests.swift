import ModelGraph
import TensorCore
import XCTest

/// Shape inference against hand-computed PyTorch output sizes:
/// out = floor((in + 2·padding − dilation·(kernel − 1) − 1) / stride) + 1.
final class ShapeInferenceTests: XCTestCase {
    func testLinearActsOnTheLastDimension() throws {
        let w = tensors([("w", [10, 64]), ("b", [10])])
        XCTAssertEqual(try outputShape(.linear, inputs: [[-1, 64]], params: ["weight": "w", "bias": "b"], tensors: w), [2, 10])
        XCTAssertEqual(try outputShape(.linear, inputs: [[-1, 7, 64]], params: ["weight": "w"], tensors: w), [2, 7, 10])
    }

    func testConvWithStridePaddingDilationGroups() throws {
        // H: (10 + 2·1 − 2·(3−1) − 1) / 2 + 1 = 7/2 + 1 = 4;  W: (12 + 2·2 − 1·(5−1) − 1) / 3 + 1 = 11/3 + 1 = 4.
        let w = tensors([("w", [6, 2, 3, 5]), ("b", [6])])
        let attrs: [String: JSONValue] = ["stride": [2, 3], "padding": [1, 2], "dilation": [2, 1], "groups": 2]
        XCTAssertEqual(try outputShape(.conv2d, inputs: [[-1, 4, 10, 12]], params: ["weight": "w", "bias": "b"],
                                       attrs: attrs, tensors: w), [2, 6, 4, 4])
    }

    func testConvSingleIntegerMeansBothAndDefaults() throws {
        // Defaults: 8 − 3 + 1 = 6. With padding 1 and stride 2: (8 + 2 − 3) / 2 + 1 = 4.
        let w = tensors([("w", [16, 1, 3, 3])])
        XCTAssertEqual(try outputShape(.conv2d, inputs: [[-1, 1, 8, 8]], params: ["weight": "w"], tensors: w), [2, 16, 6, 6])
        XCTAssertEqual(try outputShape(.conv2d, inputs: [[-1, 1, 8, 8]], params: ["weight": "w"],
                                       attrs: ["padding": 1, "stride": 2], tensors: w), [2, 16, 4, 4])
    }

    func testDepthwiseConv() throws {
        let w = tensors([("w", [8, 1, 3, 3])])
        XCTAssertEqual(try outputShape(.conv2d, inputs: [[-1, 8, 5, 5]], params: ["weight": "w"],
                                       attrs: ["groups": 8, "padding": 1], tensors: w), [2, 8, 5, 5])
    }

    func testMaxPoolStrideDefaultsToKernelAndRoundsDown() throws {
        // H: (10 − 3) / 3 + 1 = 3;  W: (7 − 3) / 3 + 1 = 2.
        XCTAssertEqual(try outputShape(.maxpool2d, inputs: [[-1, 3, 10, 7]], attrs: ["kernel": 3]), [2, 3, 3, 2])
    }

    func testAvgPoolWithPadding() throws {
        // H: (5 + 2 − 2) / 1 + 1 = 6;  W: (5 + 2 − 3) / 2 + 1 = 3.
        XCTAssertEqual(try outputShape(.avgpool2d, inputs: [[-1, 3, 5, 5]],
                                       attrs: ["kernel": [2, 3], "stride": [1, 2], "padding": 1]), [2, 3, 6, 3])
    }

    func testGlobalAvgPoolKeepsSpatialDimensionsOfOne() throws {
        XCTAssertEqual(try outputShape(.globalAvgpool, inputs: [[-1, 8, 5, 5]]), [2, 8, 1, 1])
    }

    func testFlatten() throws {
        XCTAssertEqual(try outputShape(.flatten, inputs: [[-1, 3, 4, 5]]), [2, 60])
        XCTAssertEqual(try outputShape(.flatten, inputs: [[-1, 3, 4, 5]], attrs: ["start_dim": 2]), [2, 3, 20])
        XCTAssertEqual(try outputShape(.flatten, inputs: [[-1, 3, 4, 5]], attrs: ["start_dim": 1, "end_dim": 2]), [2, 12, 5])
        XCTAssertEqual(try outputShape(.flatten, inputs: [[-1, 3, 4, 5]], attrs: ["start_dim": -2]), [2, 3, 20])
    }

    func testReshapeInfersMinusOneAndCopiesZero() throws {
        XCTAssertEqual(try outputShape(.reshape, inputs: [[-1, 3, 8]], attrs: ["shape": [-1, 4, -1]]), [2, 4, 6])
        XCTAssertEqual(try outputShape(.reshape, inputs: [[-1, 3, 8]], attrs: ["shape": [0, 0, 2, -1]]), [2, 3, 2, 4])
        XCTAssertEqual(try outputShape(.reshape, inputs: [[-1, 1, 8, 8]], attrs: ["shape": [-1, 64]], batch: 5), [5, 64])
    }

    func testConcat() throws {
        XCTAssertEqual(try outputShape(.concat, inputs: [[-1, 3, 4], [-1, 5, 4]], attrs: ["axis": 1]), [2, 8, 4])
        XCTAssertEqual(try outputShape(.concat, inputs: [[-1, 3, 4], [-1, 3, 1], [-1, 3, 2]], attrs: ["axis": -1]), [2, 3, 7])
    }

    func testShapePreservingOps() throws {
        for op in [OpKind.relu, .gelu, .sigmoid, .tanh, .silu, .dropout, .identity, .softmax, .logSoftmax] {
            XCTAssertEqual(try outputShape(op, inputs: [[-1, 3, 7]]), [2, 3, 7], "\(op)")
        }
        XCTAssertEqual(try outputShape(.add, inputs: [[-1, 6], [-1, 6]]), [2, 6])
        XCTAssertEqual(try outputShape(.mul, inputs: [[-1, 6], [-1, 6]]), [2, 6])
        let bn = tensors([("g", [4]), ("b", [4]), ("m", [4]), ("v", [4])])
        XCTAssertEqual(try outputShape(.batchnorm2d, inputs: [[-1, 4, 3, 3]],
                                       params: ["weight": "g", "bias": "b", "running_mean": "m", "running_var": "v"],
                                       tensors: bn), [2, 4, 3, 3])
        let ln = tensors([("g", [5, 6]), ("b", [5, 6])])
        XCTAssertEqual(try outputShape(.layernorm, inputs: [[-1, 4, 5, 6]], params: ["weight": "g", "bias": "b"],
                                       tensors: ln), [2, 4, 5, 6])
        XCTAssertEqual(try outputShape(.layernorm, inputs: [[-1, 4, 6]], attrs: ["normalized_shape": [6]]), [2, 4, 6])
    }

    func testEveryValueGetsAShapeForTheRequestedBatch() throws {
        let graph = Graph(name: "chain", inputs: [ValueInfo(name: "x", shape: [-1, 1, 4, 4])], outputs: ["f"], nodes: [
            Node(name: "flat", op: .flatten, inputs: ["p"], output: "f"),
            Node(name: "pool", op: .maxpool2d, inputs: ["x"], output: "p", attrs: ["kernel": 2]),
        ])
        let shapes = try graph.inferShapes(batch: 7, tensors: TensorMap())
        XCTAssertEqual(shapes, ["x": [7, 1, 4, 4], "p": [7, 1, 2, 2], "f": [7, 4]])
    }
}
