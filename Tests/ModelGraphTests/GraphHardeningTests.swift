import Foundation
import ModelGraph
import TensorCore
import XCTest

/// Graphs written by hand to break the runtime: overflowing attribute arithmetic, no outputs,
/// inputs the runtime cannot feed, parameter values no op can run with. One test per invariant,
/// each with its one-line message; and the topological order on large graphs.
final class GraphHardeningTests: XCTestCase {
    private func graph(_ json: String) throws -> Graph { try Graph(json: Data(json.utf8)) }

    func testAGraphWithoutOutputsIsRefused() {
        assertThrowsMessage(#"model.json declares no graph outputs ("outputs" must name at least one value)"#) {
            _ = try graph("""
            {"inputs": [{"name": "x", "shape": [-1, 3]}], "outputs": [],
             "nodes": [{"name": "r", "op": "relu", "inputs": ["x"], "output": "y"}]}
            """)
        }
    }

    func testAnInputTheRuntimeCannotFeedIsRefused() {
        for dtype in [DType.f16, .bf16] {
            let info = ValueInfo(name: "ids", shape: [-1, 3], dtype: dtype)
            let g = Graph(name: "g", inputs: [info], outputs: ["y"],
                          nodes: [Node(name: "r", op: .relu, inputs: ["ids"], output: "y")])
            assertThrowsMessage("graph input 'ids' has dtype \(dtype.rawValue); the runtime feeds only bool, f32, i32, i64, i8, u8 inputs") {
                try g.validate(tensors: TensorMap())
            }
        }
    }

    func testConvDilationTimesKernelThatOverflowsIsRefused() {
        // A weight [1, 1, 2^61, 0] holds no elements, so nothing but the shape rule sees its kernel.
        let map = tensors([("w", [1, 1, 1 << 61, 0])])
        assertThrowsMessage("node 'n': the kernel (2305843009213693952, dilation 999999999999999) or padding (0) along the height is out of range") {
            _ = try outputShape(.conv2d, inputs: [[-1, 1, 8, 8]], params: ["weight": "w"],
                                attrs: ["dilation": .number(999_999_999_999_999)], tensors: map)
        }
    }

    func testPaddingThatOverflowsIsRefused() {
        let map = tensors([("w", [1, 1, 3, 1])])
        let height = Int.max - 10
        assertThrowsMessage("node 'n': the kernel (3, dilation 1) or padding (100) along the height is out of range") {
            _ = try outputShape(.conv2d, inputs: [[-1, 1, height, 1]], params: ["weight": "w"],
                                attrs: ["padding": .number(100)], tensors: map, batch: 1)
        }
    }

    func testAnOutputShapeTooLargeToAddressIsRefused() {
        // 20,000 of padding on each side of a 64-channel 1×1 conv: [1, 64, 40001, 40001] f32 values fit
        // an Int, so this is the budget's to refuse (ExecutionPlan); 1e14 does not fit f32 bytes.
        let map = tensors([("w", [64, 1, 1, 1])])
        assertThrowsMessage("node 'n': output shape [2, 64, 200000000000001, 200000000000001] has too many elements") {
            _ = try outputShape(.conv2d, inputs: [[-1, 1, 1, 1]], params: ["weight": "w"],
                                attrs: ["padding": .number(1e14)], tensors: map)
        }
    }

    func testConcatWhoseSizesOverflowIsRefused() {
        let half = Int.max / 2 + 1
        let infos = [ValueInfo(name: "a", shape: [-1, half]), ValueInfo(name: "b", shape: [-1, half])]
        let g = Graph(name: "g", inputs: infos, outputs: ["y"],
                      nodes: [Node(name: "c", op: .concat, inputs: ["a", "b"], output: "y", attrs: ["axis": .number(1)])])
        assertThrowsMessage("node 'c': concat along axis 1 has too many elements") {
            _ = try g.inferShapes(batch: 1, tensors: TensorMap())
        }
    }

    func testALinearWithNoOutputsIsRefused() {
        let g = singleNodeGraph(.linear, inputs: [[-1, 4]], params: ["weight": "w"], name: "fc")
        assertThrowsMessage("node 'fc': param 'weight' (w) has shape [0, 4], expected [out_features, 4] with out_features ≥ 1") {
            try g.validate(tensors: tensors([("w", [0, 4])]))
        }
    }

    func testANegativeBatchnormVarianceIsRefused() {
        var map = tensors([("g", [2]), ("b", [2]), ("m", [2])])
        map["v"] = Tensor([1, -0.5], shape: [2])
        let g = singleNodeGraph(.batchnorm2d, inputs: [[-1, 2, 4, 4]],
                                params: ["weight": "g", "bias": "b", "running_mean": "m", "running_var": "v"], name: "bn")
        assertThrowsMessage("node 'bn': param 'running_var' (v) holds -0.5 at index 1; a variance must be ≥ 0") {
            try g.validate(tensors: map)
        }
    }

    func testInputQuantizationOutOfRangeIsRefused() {
        func node(_ quant: [String: JSONValue]) -> Graph {
            singleNodeGraph(.relu, inputs: [[-1, 4]], attrs: ["input_quant": .object(quant)], name: "q")
        }
        assertThrowsMessage("node 'q': attribute 'input_quant' zero point 300 (index 0) is outside the range of u8 (0…255)") {
            try node(["scale": .number(0.1), "zero_point": .number(300), "dtype": .string("u8")]).validate(tensors: TensorMap())
        }
        assertThrowsMessage("node 'q': attribute 'input_quant' zero point 3000000000 is outside the range of u8") {
            try node(["scale": .number(0.1), "zero_point": .number(3e9), "dtype": .string("u8")]).validate(tensors: TensorMap())
        }
        assertThrowsMessage("node 'q': attribute 'input_quant' scale 0.0 (index 0) is not a positive normal f32 value") {
            try node(["scale": .number(1e-60), "zero_point": .number(0), "dtype": .string("i8")]).validate(tensors: TensorMap())
        }
    }

    // MARK: topological order

    /// A chain of `count` ReLUs, listed forward or backward.
    private func chain(_ count: Int, reversed: Bool) -> Graph {
        var nodes = (0..<count).map { i in Node(name: "n\(i)", op: .relu, inputs: [i == 0 ? "x" : "v\(i - 1)"], output: "v\(i)") }
        if reversed { nodes.reverse() }
        return Graph(name: "chain", inputs: [ValueInfo(name: "x", shape: [-1, 2])], outputs: ["v\(count - 1)"], nodes: nodes)
    }

    func testLargeChainsSortInEitherOrder() throws {
        for reversed in [false, true] {
            var g = chain(20_000, reversed: reversed)
            try g.sortTopologically()
            XCTAssertEqual(g.nodes.map(\.name), (0..<20_000).map { "n\($0)" })
        }
    }

    func testAmongReadyNodesTheOneListedFirstComesFirst() throws {
        // Listing: c (needs b), a, b (needs a), d. Ready at the start: a, d (a listed first).
        var g = Graph(name: "g", inputs: [ValueInfo(name: "x", shape: [-1, 2])], outputs: ["c", "d"], nodes: [
            Node(name: "c", op: .relu, inputs: ["b"], output: "c"),
            Node(name: "a", op: .relu, inputs: ["x"], output: "a"),
            Node(name: "b", op: .add, inputs: ["a", "a"], output: "b"),
            Node(name: "d", op: .relu, inputs: ["x"], output: "d"),
        ])
        try g.sortTopologically()
        XCTAssertEqual(g.nodes.map(\.name), ["a", "b", "c", "d"])
    }

    func testACycleNamesItsFirstListedNode() {
        var g = Graph(name: "g", inputs: [ValueInfo(name: "x", shape: [-1, 2])], outputs: ["c"], nodes: [
            Node(name: "ok", op: .relu, inputs: ["x"], output: "o"),
            Node(name: "p", op: .add, inputs: ["o", "q"], output: "p"),
            Node(name: "q", op: .relu, inputs: ["p"], output: "q"),
            Node(name: "c", op: .relu, inputs: ["q"], output: "c"),
        ])
        assertThrowsMessage("node 'p' is part of a cycle") { try g.sortTopologically() }
    }

    func testTheIndexAnswersLikeTheScans() throws {
        let g = chain(50, reversed: true)
        let index = g.index
        for i in [0, 17, 49] {
            XCTAssertEqual(index.node(named: "n\(i)"), g.node(named: "n\(i)"))
            XCTAssertEqual(index.producer(of: "v\(i)"), g.producer(of: "v\(i)"))
            XCTAssertEqual(index.consumers(of: "v\(i)"), g.consumers(of: "v\(i)"))
        }
        XCTAssertNil(index.node(named: "absent"))
        XCTAssertEqual(index.consumers(of: "x").map(\.name), ["n0"])
    }
}
