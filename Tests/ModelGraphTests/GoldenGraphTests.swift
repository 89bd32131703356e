import Foundation
import ModelFormats
import ModelGraph
import TensorCore
import XCTest

/// The golden PyTorch graphs validate against their state_dict shapes (recorded by NumPy in
/// `Fixtures/golden_tensor_shapes.json`), and infer the shapes PyTorch produces.
final class GoldenGraphTests: XCTestCase {
    private func golden(_ model: String) throws -> (Graph, TensorMap) {
        let graph = try Graph(json: Data(contentsOf: fixtureURL("\(model).model.json")))
        let all = try JSONDecoder().decode([String: [String: TensorInfo]].self,
                                           from: Data(contentsOf: fixtureURL("golden_tensor_shapes.json")))
        var map = TensorMap()
        for (name, info) in try XCTUnwrap(all[model]).sorted(by: { $0.key < $1.key }) {
            XCTAssertEqual(info.dtype, "float32")
            map[name] = Tensor(zeros: .f32, Shape(info.shape))
        }
        return (graph, map)
    }

    private struct TensorInfo: Decodable { var shape: [Int]; var dtype: String }

    func testTeacherAndStudentValidate() throws {
        for (model, hidden) in [("teacher", 512), ("student", 64)] {
            let (graph, map) = try golden(model)
            try graph.validate(tensors: map)
            let shapes = try graph.inferShapes(batch: 3, tensors: map)
            XCTAssertEqual(shapes["h1"], [3, hidden])
            XCTAssertEqual(shapes["logits"], [3, 10])
        }
    }

    func testCNNValidatesWithPyTorchShapes() throws {
        let (graph, map) = try golden("cnn")
        try graph.validate(tensors: map)
        let shapes = try graph.inferShapes(batch: 4, tensors: map)
        XCTAssertEqual(shapes["c1"], [4, 16, 8, 8])   // 3×3, padding 1
        XCTAssertEqual(shapes["c2"], [4, 32, 8, 8])
        XCTAssertEqual(shapes["p"], [4, 32, 4, 4])    // 2×2 max pool
        XCTAssertEqual(shapes["f"], [4, 512])         // = fc1.weight's in_features
        XCTAssertEqual(shapes["logits"], [4, 10])
    }

    func testTypedAttributesOfTheCNN() throws {
        let (graph, _) = try golden("cnn")
        let conv = try Conv2dAttributes(XCTUnwrap(graph.node(named: "conv1")))
        XCTAssertEqual(conv, Conv2dAttributes(stride: Spatial2D(1, 1), padding: Spatial2D(1, 1), dilation: Spatial2D(1, 1), groups: 1))
        let pool = try Pool2dAttributes(XCTUnwrap(graph.node(named: "pool")))
        XCTAssertEqual(pool.kernel, Spatial2D(2, 2))
        XCTAssertEqual(pool.stride, Spatial2D(2, 2))
        XCTAssertEqual(try OpAttributes(XCTUnwrap(graph.node(named: "flatten"))), .flatten(FlattenAttributes(startDim: 1, endDim: -1)))
    }

    func testAttributeDefaults() throws {
        let node = { (op: OpKind, attrs: [String: JSONValue]) in Node(name: "n", op: op, inputs: ["x"], output: "y", attrs: attrs) }
        XCTAssertEqual(try Pool2dAttributes(node(.avgpool2d, ["kernel": [3, 2]])).stride, Spatial2D(3, 2))
        XCTAssertEqual(try BatchNormAttributes(node(.batchnorm2d, [:])).eps, 1e-5)
        XCTAssertEqual(try GeluAttributes(node(.gelu, [:])).approximate, .none)
        XCTAssertEqual(try GeluAttributes(node(.gelu, ["approximate": "tanh"])).approximate, .tanh)
        XCTAssertEqual(try SoftmaxAttributes(node(.softmax, [:])).axis, -1)
        XCTAssertEqual(try Conv2dAttributes(node(.conv2d, ["padding": 2])).padding, Spatial2D(2, 2))
    }
}
