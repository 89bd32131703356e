import XCTest
import ModelGraph
import TensorCore
@testable import Pruning

final class L1UnstructuredTests: XCTestCase {
    private func bools(_ values: [UInt8], _ shape: Shape) throws -> Tensor { try Tensor(dtype: .bool, shape: shape, bytes: values) }

    /// A tiny two-layer package: fc1 [3,4] and fc2 [2,3] with biases.
    private func tinyPackage(_ w1: [Float], _ w2: [Float]) throws -> ModelPackage {
        let graph = Graph(name: "tiny", inputs: [ValueInfo(name: "x", shape: [-1, 4])], outputs: ["y"], nodes: [
            Node(name: "fc1", op: .linear, inputs: ["x"], output: "h", params: ["weight": "fc1.weight", "bias": "fc1.bias"]),
            Node(name: "act", op: .relu, inputs: ["h"], output: "a"),
            Node(name: "fc2", op: .linear, inputs: ["a"], output: "y", params: ["weight": "fc2.weight", "bias": "fc2.bias"]),
        ])
        var tensors = TensorMap()
        tensors["fc1.weight"] = Tensor(w1, shape: [3, 4])
        tensors["fc1.bias"] = Tensor([0.01, -0.02, 0.03], shape: [3])
        tensors["fc2.weight"] = Tensor(w2, shape: [2, 3])
        tensors["fc2.bias"] = Tensor([0.5, -0.5], shape: [2])
        return ModelPackage(graph: graph, tensors: tensors)
    }

    func testSmallestMagnitudesArePrunedToPositiveZero() throws {
        let w = Tensor([-0.9, 0.1, -0.2, 0.8, -0.05, 0.3], shape: [2, 3])
        let mask = try L1Unstructured(amount: .fraction(0.5)).mask(importance: w, existing: nil)
        XCTAssertEqual(mask.bytes, [1, 0, 0, 1, 0, 1])  // |0.05|, |0.1|, |0.2| are the three smallest
        let pruned = try w.masked(by: mask, name: "w").floats
        XCTAssertEqual(pruned.map(\.bitPattern), [-0.9, 0, 0, 0.8, 0, 0.3].map { Float($0).bitPattern })  // +0.0, never −0.0
    }

    /// PyTorch's PruningContainer: a new amount applies to the still-unpruned entries only.
    func testIterativePruningAppliesToRemainingEntries() throws {
        let w = Tensor((1...8).map { Float($0) * ($0 % 2 == 0 ? -1 : 1) }, shape: [8])  // |w| = 1…8
        let half = L1Unstructured(amount: try .fraction(0.5))
        let first = try half.mask(importance: w, existing: nil)
        XCTAssertEqual(first.bytes, [0, 0, 0, 0, 1, 1, 1, 1])
        let second = try half.mask(importance: w, existing: first)
        XCTAssertEqual(second.bytes, [0, 0, 0, 0, 0, 0, 1, 1])  // 75%, not 100%
        // Existing zeros of the weight do not count as pruned; an existing mask decides.
        let third = try L1Unstructured(amount: .count(1)).mask(importance: w, existing: try bools([1, 0, 0, 0, 0, 0, 1, 1], [8]))
        XCTAssertEqual(third.bytes, [0, 0, 0, 0, 0, 0, 1, 1])  // |w|=1 was still kept: it is the one pruned
        XCTAssertThrowsError(try L1Unstructured(amount: .count(3)).mask(importance: w, existing: second)) {
            XCTAssertEqual("\($0)", "pruning amount 3 exceeds the 2 unpruned entries of the tensor")
        }
    }

    /// Global scope ranks all chosen tensors together: one threshold, and an int count across all.
    func testGlobalScopeUsesOneThreshold() throws {
        let package = try tinyPackage([0.1, 0.9, 0.2, 0.8, 0.3, 0.7, 0.4, 0.6, 0.5, 0.05, 0.95, 0.15],
                                      [0.12, 0.99, 0.01, 0.5, 0.02, 0.98])
        let names = try ParameterSelection().resolve(in: package.graph)
        XCTAssertEqual(names, ["fc1.weight", "fc2.weight"])
        let pruned = try package.pruned(names, by: L1Unstructured(amount: .count(5)), scope: .global)
        // The five smallest of all 18: 0.01, 0.02 (fc2), 0.05, 0.1, 0.12(fc2) → fc1 loses 0.05 and 0.1.
        XCTAssertEqual(pruned.masks["fc1.weight"]!.bytes, [0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1])
        XCTAssertEqual(pruned.masks["fc2.weight"]!.bytes, [0, 1, 0, 1, 0, 1])
        XCTAssertEqual(pruned.tensors["fc1.bias"]!.floats, package.tensors["fc1.bias"]!.floats)
        XCTAssertNil(pruned.masks["fc1.bias"])
        // Per layer, the same count applies to each tensor separately.
        let perLayer = try package.pruned(names, by: L1Unstructured(amount: .count(2)), scope: .layer)
        XCTAssertEqual(perLayer.masks["fc1.weight"]!.bytes, [0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1])
        XCTAssertEqual(perLayer.masks["fc2.weight"]!.bytes, [1, 1, 0, 1, 0, 1])
        XCTAssertThrowsError(try package.pruned(["fc2.weight"], by: L1Unstructured(amount: .count(7)), scope: .layer)) {
            XCTAssertEqual("\($0)", "pruning amount 7 exceeds the 6 unpruned entries of fc2.weight")
        }
    }

    /// Pruning a pruned package composes with its masks (global: 0.5 of what is left).
    func testPackagePruningComposesWithStoredMasks() throws {
        let package = try tinyPackage((1...12).map { Float($0) / 10 }, (1...6).map { Float($0) / 100 })
        let once = try package.pruned(["fc1.weight"], by: L1Unstructured(amount: .fraction(0.5)), scope: .layer)
        let twice = try once.pruned(["fc1.weight"], by: L1Unstructured(amount: .fraction(0.5)), scope: .layer)
        XCTAssertEqual(MaskSet.keptCount(once.masks["fc1.weight"]!), 6)
        XCTAssertEqual(MaskSet.keptCount(twice.masks["fc1.weight"]!), 3)
        XCTAssertEqual(twice.tensors["fc1.weight"]!.floats, [0, 0, 0, 0, 0, 0, 0, 0, 0, 1.0, 1.1, 1.2])
    }

    func testNaNRanksAboveEverythingAndNegativeZeroAsZero() throws {
        let w = Tensor([.nan, -0.0, 3, 0.0, .infinity, -1], shape: [6])
        let mask = try L1Unstructured(amount: .count(5)).mask(importance: w, existing: nil)
        XCTAssertEqual(mask.bytes, [1, 0, 0, 0, 0, 0])
        let ties = try L1Unstructured(amount: .count(1)).mask(importance: w, existing: nil)
        XCTAssertEqual(ties.bytes, [1, 0, 1, 1, 1, 1])  // −0.0 and +0.0 tie; the lower index goes first
    }

    func testQuantizedWeightsArePrunedToTheirZeroPoint() throws {
        var q = try Tensor(dtype: .i8, shape: [2, 2], bytes: [5, 250, 7, 9])  // 5, -6, 7, 9
        q.quant = QuantParams(scales: [0.5, 0.25], zeroPoints: [1, -2], axis: 0)
        let mask = try bools([1, 0, 0, 1], [2, 2])
        let pruned = try q.masked(by: mask, name: "q")
        XCTAssertEqual(pruned.floats, [2, 0, 0, 2.75])
    }

    func testMaskShapeAndDTypeAreChecked() throws {
        let w = Tensor([1, 2, 3, 4], shape: [2, 2])
        XCTAssertThrowsError(try L1Unstructured(amount: .count(1)).mask(importance: w, existing: try bools([1, 1, 1], [3]))) {
            XCTAssertEqual("\($0)", "mask of 'tensor' has shape [3], the tensor has [2, 2]")
        }
        XCTAssertThrowsError(try w.masked(by: Tensor([1, 1, 1, 1], shape: [2, 2]), name: "fc1.weight")) {
            XCTAssertEqual("\($0)", "mask of 'fc1.weight' has dtype f32, expected bool")
        }
    }
}
