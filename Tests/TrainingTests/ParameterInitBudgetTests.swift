import ModelGraph
import TensorCore
import XCTest
@testable import Training

/// Parameters initialised from shapes the graph declares, and the state training keeps beside
/// them, are held to the memory budget first.
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

    /// A linear 64 → 100 has 6,500 parameters; Adam keeps two moments of them, plus the gradients
    /// and the best copy: 4 × 6,500 × 4 bytes. SGD without momentum keeps no moments.
    func testTheTrainingStateIsHeldToTheBudget() throws {
        let graph = Graph(name: "t", inputs: [ValueInfo(name: "x", shape: [-1, 64])], outputs: ["y"],
                          nodes: [Node(name: "fc", op: .linear, inputs: ["x"], output: "y", params: ["weight": "fc.weight", "bias": "fc.bias"],
                                       attrs: ["out_features": .number(100)])])
        let model = try TrainableModel(graph: graph, tensors: TensorMap())
        let saved = MemoryBudget.limit
        defer { MemoryBudget.limit = saved }
        MemoryBudget.limit = 100_000
        XCTAssertThrowsError(try Trainer.admitTrainingState(model, optimizer: try Adam())) { error in
            XCTAssertEqual("\(error)", "the training state (adam: 2 moment buffers + gradients + the best copy of 6500 parameters) needs 104000 bytes, "
                           + "over the memory budget of 100000 bytes (raise it with --max-memory)")
        }
        XCTAssertNoThrow(try Trainer.admitTrainingState(model, optimizer: try SGD()))
    }
}
