import ModelGraph
import TensorCore
import XCTest
@testable import Training

/// Parameters initialised from shapes the graph declares are held to the memory budget first.
final class ParameterInitBudgetTests: XCTestCase {
    func testAnInitialWeightPastTheBudgetIsRefusedNamingTheNode() throws {
        let node = Node(name: "huge", op: .linear, inputs: ["x"], output: "y", params: ["weight": "huge.weight"],
                        attrs: ["out_features": .number(1e14)])
        var rng = SeededRNG(seed: 1)
        let input = FloatArray(shape: [2, 64], values: [Float](repeating: 0, count: 128))
        XCTAssertThrowsError(try ParameterInit.initialValue(node: node, role: "weight", input: input, weight: nil, rng: &rng)) { error in
            XCTAssertEqual("\(error)", "node 'huge' (initial weight of shape [100000000000000, 64]) needs 25600000000000000 bytes, "
                           + "over the memory budget of \(MemoryBudget.limit) bytes (raise it with --max-memory)")
        }
        let small = Node(name: "ok", op: .linear, inputs: ["x"], output: "y", attrs: ["out_features": .number(3)])
        XCTAssertEqual(try ParameterInit.initialValue(node: small, role: "weight", input: input, weight: nil, rng: &rng).shape, [3, 64])
    }
}
