import Foundation
import ModelGraph
import TensorCore
import XCTest

/// Zero-filled f32 tensors with the given shapes.
func tensors(_ shapes: [(String, [Int])]) -> TensorMap {
    var map = TensorMap()
    for (name, dims) in shapes { map[name] = Tensor(zeros: .f32, Shape(dims)) }
    return map
}

/// A one-node graph `y = op(x…)` with inputs of the given shapes (-1 first is the batch).
func singleNodeGraph(_ op: OpKind, inputs: [[Int]], params: [String: String] = [:],
                     attrs: [String: JSONValue] = [:], name: String = "n") -> Graph {
    let infos = inputs.enumerated().map { ValueInfo(name: "x\($0.offset)", shape: $0.element) }
    let node = Node(name: name, op: op, inputs: infos.map(\.name), output: "y", params: params, attrs: attrs)
    return Graph(name: "test", inputs: infos, outputs: ["y"], nodes: [node])
}

/// The output shape of a one-node graph for batch `batch`.
func outputShape(_ op: OpKind, inputs: [[Int]], params: [String: String] = [:], attrs: [String: JSONValue] = [:],
                 tensors map: TensorMap = TensorMap(), batch: Int = 2) throws -> [Int] {
    let graph = singleNodeGraph(op, inputs: inputs, params: params, attrs: attrs)
    let shapes = try graph.inferShapes(batch: batch, tensors: map)
    return try XCTUnwrap(shapes["y"]).dims
}

/// Asserts `body` throws an error whose one-line description is exactly `message`.
func assertThrowsMessage(_ message: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected an error: \(message)", file: file, line: line)
    } catch {
        XCTAssertEqual(String(describing: error), message, file: file, line: line)
    }
}

func fixtureURL(_ name: String) -> URL {
    Bundle.module.resourceURL!.appendingPathComponent("Fixtures/\(name)")
}
