import Foundation
import ModelGraph
import TensorCore
import XCTest

/// Nodes with several outputs (`topk`) and the rule for non-finite constants (docs/onnx.md).
final class MultiOutputTests: XCTestCase {
    private let topk = """
    {"modelsmith": 1, "name": "sel", "inputs": [{"name": "x", "shape": [-1, 3, 6]}], "outputs": ["v", "i"],
     "nodes": [{"name": "top", "op": "topk", "inputs": ["x"], "outputs": ["v", "i"], "attrs": {"k": 2}}]}
    """

    func testSeveralOutputsRoundTripAndGetShapes() throws {
        let graph = try Graph(json: Data(topk.utf8))
        XCTAssertEqual(graph.nodes[0].outputs, ["v", "i"])
        XCTAssertEqual(graph.nodes[0].output, "v")
        let shapes = try graph.inferShapes(batch: 4, tensors: TensorMap())
        XCTAssertEqual(shapes["v"], Shape([4, 3, 2]))
        XCTAssertEqual(shapes["i"], Shape([4, 3, 2]))
        XCTAssertEqual(graph.index.producer(of: "i")?.name, "top")
        let again = try Graph(json: graph.jsonData())
        XCTAssertEqual(again, graph)
        let node = try XCTUnwrap(JSONSerialization.jsonObject(with: graph.jsonData()) as? [String: Any])["nodes"] as? [[String: Any]]
        XCTAssertEqual(node?.first?["outputs"] as? [String], ["v", "i"])
        XCTAssertNil(node?.first?["output"], "one of output / outputs is written")
    }

    func testWrongOutputCountsAreRefused() throws {
        let one = """
        {"inputs": [{"name": "x", "shape": [-1, 3, 6]}], "outputs": ["v"],
         "nodes": [{"name": "top", "op": "topk", "inputs": ["x"], "output": "v", "attrs": {"k": 2}}]}
        """
        assertThrowsMessage("node 'top': topk produces 2 output(s), the node names 1") {
            try Graph(json: Data(one.utf8)).validate(tensors: TensorMap())
        }
        let twice = topk.replacingOccurrences(of: "[\"v\", \"i\"], \"attrs\"", with: "[\"v\", \"v\"], \"attrs\"")
        assertThrowsMessage("value 'v' is produced twice") { _ = try Graph(json: Data(twice.utf8)) }
        let relu = """
        {"inputs": [{"name": "x", "shape": [-1, 3]}], "outputs": ["y"],
         "nodes": [{"name": "r", "op": "relu", "inputs": ["x"], "outputs": ["y", "z"]}]}
        """
        assertThrowsMessage("node 'r': relu produces 1 output(s), the node names 2") {
            try Graph(json: Data(relu.utf8)).validate(tensors: TensorMap())
        }
    }

    /// ±Inf is allowed where only `constant` nodes read the tensor (a mask); NaN and Inf in a
    /// param role are refused.
    func testInfinityIsAllowedOnlyInConstantMasks() throws {
        let graph = Graph(name: "masked", inputs: [ValueInfo(name: "x", shape: [-1, 4])], outputs: ["y"], nodes: [
            Node(name: "mask", op: .constant, inputs: [], output: "m", params: ["value": "mask"]),
            Node(name: "masked", op: .add, inputs: ["x", "m"], output: "s"),
            Node(name: "fc", op: .linear, inputs: ["s"], output: "y", params: ["weight": "fc.weight"]),
        ])
        var tensors = TensorMap()
        tensors["mask"] = Tensor([0, 0, -.infinity, -.infinity], shape: [4])
        tensors["fc.weight"] = Tensor([Float](repeating: 1, count: 8), shape: [2, 4])
        XCTAssertTrue(NonFiniteRule.refused(tensors, graph: graph).isEmpty)
        XCTAssertEqual(NonFiniteRule.refused(tensors, graph: nil).map(\.name), ["mask"], "without a graph every tensor is a weight")
        tensors["fc.weight"] = Tensor([1, 1, 1, .infinity, 1, 1, 1, 1], shape: [2, 4])
        XCTAssertEqual(NonFiniteRule.refused(tensors, graph: graph).map(\.name), ["fc.weight"])
        tensors["fc.weight"] = Tensor([Float](repeating: 1, count: 8), shape: [2, 4])
        tensors["mask"] = Tensor([0, .nan, 0, 0], shape: [4])
        XCTAssertEqual(NonFiniteRule.refused(tensors, graph: graph).map(\.name), ["mask"], "NaN is refused everywhere")
    }
}
