import Foundation
import XCTest
import ModelFormats
import ModelGraph
import TensorCore
import TestSupport
@testable import ModelRuntime
import Kernels

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
            // Values of the graph (not the plan's blocked copies of plain values).
            let blocked = Set(fused.plan.slots.filter { $0.value.blocked != nil && unfused.plan.slots[$0.key] != nil }.map(\.key))
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

    /// A convolution reading a plain value (after a pool) reads a blocked copy instead of falling
    /// back to oneDNN's im2col gemm: every ResNet conv with whole channel blocks runs a direct jit kernel.
    func testResNetConvolutionsRunBlocked() throws {
        let (package, _, _) = try Self.load("resnet18")
        let session = try Session(package: package, options: SessionOptions(maxBatch: 1))
        let block = ActivationLayout.preferredBlock
        let whole = session.plan.steps.compactMap { $0.kernel as? Conv2dKernel }
            .filter { $0.conv.geometry.inChannels % block == 0 && $0.conv.geometry.outChannels % block == 0 }
        XCTAssertFalse(whole.isEmpty)
        for conv in whole {
            let implementation = try conv.conv.implementation(batch: 1)
            XCTAssertTrue(implementation.hasPrefix("jit"), "\(implementation) \(conv.conv.geometry)")
        }
    }

    /// The BERT-style encoder: MatMul + Add become linears with a bias, the decomposed layer norm
    /// and exact GELU single kernels; fused == unfused == ONNX Runtime on every output.
    func testEncoderFusionsEqualUnfusedAndONNXRuntime() throws {
        let package = try ModelPackage.load(path: Self.fixture("bert.onnx"), onnx: ONNXImport.Options(dims: ["sequence": 8]))
        let inputs = try WeightReaders.read(Self.fixture("bert-inputs.npz")).tensors
        let expected = try WeightReaders.read(Self.fixture("bert-expected.npz")).tensors
        var feeds: [String: Tensor] = [:]
        for (name, tensor) in inputs { feeds[name] = tensor }
        let fused = try Session(package: package, options: SessionOptions(maxBatch: 2))
        let unfused = try Session(package: package, options: SessionOptions(maxBatch: 2, fuse: false))
        let graph = package.graph.nodes, steps = Set(fused.plan.steps.map(\.node))
        let folded = graph.filter { [.pow, .erf, .sqrt, .reduceMean].contains($0.op) }.map(\.name).filter(steps.contains)
        XCTAssertTrue(folded.allSatisfy { name in graph.first { $0.name == name }!.op == .reduceMean }, "\(folded)")  // the layernorms' names
        XCTAssertEqual(fused.plan.steps.filter { $0.kernel is LayerNormKernel }.count, graph.filter { $0.op == .sqrt }.count)
        let linearOutputs = Set(graph.filter { $0.op == .linear }.map(\.output))
        let biasAdds = graph.filter { $0.op == .add && $0.inputs.contains(where: linearOutputs.contains) }.map(\.name)
        XCTAssertFalse(biasAdds.isEmpty)
        XCTAssertFalse(biasAdds.contains(where: steps.contains), "bias adds left: \(biasAdds.filter(steps.contains))")
        let a = try fused.run(feeds), b = try unfused.run(feeds)
        for (name, reference) in expected {
            XCTAssertNil(Self.close(a[name]!, b[name]!, Self.fusionTolerance), "\(name): fused vs unfused")
            XCTAssertNil(Self.close(a[name]!, reference, Self.fusionTolerance), "\(name): fused vs ONNX Runtime")
            XCTAssertNil(Self.close(b[name]!, reference, Self.fusionTolerance), "\(name): unfused vs ONNX Runtime")
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
