import XCTest
import ModelGraph
import TensorCore
@testable import Pruning

final class ParameterSelectionTests: XCTestCase {
    let graph = GoldenFixtures.teacher.graph

    func testDefaultIsEveryLinearAndConvWeight() throws {
        XCTAssertEqual(try ParameterSelection().resolve(in: graph), ["fc1.weight", "fc2.weight", "fc3.weight"])
    }

    func testLayersAndExcludeSelectAndBiasesOnlyWhenNamed() throws {
        XCTAssertEqual(try ParameterSelection(layers: ["fc2", "fc1"]).resolve(in: graph), ["fc1.weight", "fc2.weight"])
        XCTAssertEqual(try ParameterSelection(exclude: ["fc3"]).resolve(in: graph), ["fc1.weight", "fc2.weight"])
        XCTAssertEqual(try ParameterSelection(layers: ["fc1", "fc1.bias"]).resolve(in: graph), ["fc1.bias", "fc1.weight"])
        XCTAssertEqual(try ParameterSelection(layers: ["fc3.weight"]).resolve(in: graph), ["fc3.weight"])
    }

    func testUnknownNamesAndEmptySelectionsAreClearErrors() {
        XCTAssertThrowsError(try ParameterSelection(layers: ["fc9"]).resolve(in: graph)) {
            XCTAssertEqual("\($0)", "unknown layer or parameter 'fc9'; prunable layers: fc1, fc2, fc3")
        }
        XCTAssertThrowsError(try ParameterSelection(exclude: ["relu1"]).resolve(in: graph)) {
            XCTAssertEqual("\($0)", "unknown layer or parameter 'relu1'; prunable layers: fc1, fc2, fc3")
        }
        XCTAssertThrowsError(try ParameterSelection(exclude: ["fc1", "fc2", "fc3"]).resolve(in: graph)) {
            XCTAssertEqual("\($0)", "model 'digits-teacher-mlp' has no prunable layers (weights of linear or conv2d nodes) left to prune")
        }
        let noLayers = Graph(name: "acts", inputs: [ValueInfo(name: "x", shape: [-1, 4])], outputs: ["y"],
                             nodes: [Node(name: "r", op: .relu, inputs: ["x"], output: "y")])
        XCTAssertThrowsError(try ParameterSelection().resolve(in: noLayers)) { XCTAssertEqual($0 as? PruningError, .noPrunableLayers(model: "acts")) }
    }
}
