import Foundation
import XCTest
import ModelGraph
import TensorCore
import TestSupport
@testable import ModelRuntime

/// The fused plan (post-ops, folded batchnorm, channel-blocked activations; docs/runtime.md
/// "Layouts") against the unfused one, op by op in NCHW, on the ONNX CNN fixtures — and both
/// against ONNX Runtime's outputs for the same files (Fixtures, scripts/gen-onnx-fixtures.py).
final class FusedPlanTests: XCTestCase {
    /// Fused vs unfused: the same products summed in another order (folded batchnorm, blocked loops).
    static let fusionTolerance: Float = 1e-4
    static let families = ["resnet18", "mobilenet_v2", "mobilenet_v3", "efficientnet"]

    static func fixture(_ name: String) -> String {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures/\(name)").path
    }

    static func load(_ family: String) throws -> (ModelPackage, Tensor, Tensor) {
        let package = try ModelPackage.load(path: fixture("\(family).onnx"))
        let input = try Dataset.load(path: fixture("\(family)-inputs.npz"), xKey: "input", yKey: nil).x
        let expected = try Dataset.load(path: fixture("\(family)-expected.npz"), xKey: "logits", yKey: nil).x
        return (package, input, expected)
    }

    /// Tolerance scaled to the output's magnitude (MobileNetV3's logits are ~1e-3).
    static func close(_ a: Tensor, _ b: Tensor, _ tolerance: Float) -> String? {
        let scale = max(b.floats.map(abs).max() ?? 0, 1e-6)
        return closenessFailure(a.floats, b.floats, rtol: tolerance, atol: tolerance * scale)
    }

    func testFusedEqualsUnfusedAndONNXRuntime() throws {
        for family in Self.families {
            let (package, input, expected) = try Self.load(family)
            let fused = try Session(package: package, options: SessionOptions(maxBatch: 2))
            let unfused = try Session(package: package, options: SessionOptions(maxBatch: 2, fuse: false))
            let name = package.graph.inputs[0].name
            let a = try fused.run([name: input])["logits"]!, b = try unfused.run([name: input])["logits"]!
            XCTAssertNil(Self.close(a, b, Self.fusionTolerance), "\(family): fused vs unfused")
            XCTAssertNil(Self.close(a, expected, Self.fusionTolerance), "\(family): fused vs ONNX Runtime")
            XCTAssertNil(Self.close(b, expected, Self.fusionTolerance), "\(family): unfused vs ONNX Runtime")
            // A smaller batch reads a prefix of every blocked buffer.
            let first = Tensor(Array(input.floats[0..<(input.elementCount / 2)]), shape: Shape([1] + input.shape.dims.dropFirst()))
            let one = try fused.run([name: first])["logits"]!
            XCTAssertNil(closenessFailure(one.floats, Array(a.floats[0..<one.elementCount]), rtol: 1e-5, atol: 1e-6), "\(family): batch 1")
        }
    }

    /// Values held blocked are tapped in NCHW, equal to the unfused plan's.
    func testTapsOfBlockedValuesAreNCHW() throws {
        for family in Self.families {
            let (package, input, _) = try Self.load(family)
            let fused = try Session(package: package, options: SessionOptions(maxBatch: 2))
            let unfused = try Session(package: package, options: SessionOptions(maxBatch: 2, fuse: false))
            let blocked = Set(fused.plan.slots.filter { $0.value.blocked != nil }.map(\.key))
            XCTAssertFalse(blocked.isEmpty, "\(family): no value is held blocked")
            let name = package.graph.inputs[0].name
            var fusedValues: [String: Tensor] = [:], unfusedValues: [String: Tensor] = [:]
            _ = try fused.run([name: input], taps: blocked) { fusedValues[$0] = $1 }
            _ = try unfused.run([name: input], taps: blocked) { unfusedValues[$0] = $1 }
            XCTAssertEqual(fusedValues.count, blocked.count)
            for value in blocked.sorted() {
                XCTAssertEqual(fusedValues[value]?.shape, unfusedValues[value]?.shape, "\(family) \(value)")
                XCTAssertNil(Self.close(fusedValues[value]!, unfusedValues[value]!, Self.fusionTolerance), "\(family) \(value)")
            }
        }
    }

    /// Consecutive convolutions pass blocked values: MobileNetV2 reorders once, before its global pool.
    func testMobileNetV2ReordersOnlyAtTheEdge() throws {
        let (package, _, _) = try Self.load("mobilenet_v2")
        let session = try Session(package: package, options: SessionOptions(maxBatch: 1))
        let reorders = session.plan.steps.filter { $0.kernel is ReorderKernel }.map(\.node)
        XCTAssertEqual(reorders.count, 1, "\(reorders)")
    }
}
