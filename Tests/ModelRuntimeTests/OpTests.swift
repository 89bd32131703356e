import XCTest
import ModelGraph
import TensorCore
import TestSupport
@testable import ModelRuntime

/// Every op against values computed independently in numpy (float64, PyTorch semantics).
final class OpTests: XCTestCase {
    /// Relative tolerance on top of each fixture's absolute one (f32 accumulation vs float64).
    static let opRelativeTolerance: Float = 1e-5

    func testEveryOpMatchesNumpy() throws {
        let fixtures = try OpFixture.all
        XCTAssertGreaterThanOrEqual(fixtures.count, 28)
        for fixture in fixtures {
            for fuse in [true, false] {
                let session = try Session(package: fixture.package, options: SessionOptions(maxBatch: 8, fuse: fuse))
                let outputs = try session.run(fixture.inputs)
                XCTAssertEqual(Set(outputs.keys), Set(fixture.outputs.keys), fixture.name)
                for (name, expected) in fixture.outputs {
                    let actual = try XCTUnwrap(outputs[name], "\(fixture.name): \(name)")
                    XCTAssertEqual(actual.shape, expected.shape, "\(fixture.name): \(name)")
                    XCTAssertNil(closenessFailure(actual.floats, expected.floats, rtol: Self.opRelativeTolerance, atol: fixture.atol),
                                 "\(fixture.name) (fuse \(fuse)): \(name)")
                }
            }
        }
    }

    /// The op layer's coverage (docs/architecture.md, "Adding an op"): every op of the vocabulary
    /// has a shape rule, a forward and a reference case — it appears in a fixture, which runs through
    /// shape inference (`Session` validates) and the kernels above.
    func testEveryOpHasAReferenceFixture() throws {
        let covered = Set(try OpFixture.all.flatMap { $0.package.graph.nodes.map(\.op) })
        let missing = OpKind.allCases.filter { !covered.contains($0) }.map(\.rawValue)
        XCTAssertEqual(missing, [], "ops without a reference fixture in Fixtures/ops")
    }

    /// MobileNetV2's conv → batchnorm → ReLU6 runs as one oneDNN convolution (batchnorm folded, clip
    /// a post-op); the block's values match PyTorch in `testEveryOpMatchesNumpy` either way.
    func testReluSixFusesIntoTheConvolution() throws {
        let fixture = try OpFixture.named("onnx_block_mobilenet_v2")
        let session = try Session(package: fixture.package, options: SessionOptions(maxBatch: 2))
        XCTAssertEqual(session.plan.steps.map(\.node), ["expand", "dw", "project", "residual"])
        XCTAssertEqual(session.plan.fusedAway["eb"], "expand")
        XCTAssertEqual(session.plan.fusedAway["db"], "dw")
    }

    /// Each sample's result does not depend on the batch it runs in.
    func testSingleSampleRunsMatchTheBatch() throws {
        for name in ["conv2d", "conv_bn_relu", "linear_3d", "maxpool2d", "softmax", "concat", "residual_dag"] {
            let fixture = try OpFixture.named(name)
            let session = try Session(package: fixture.package)
            let batch = fixture.inputs.values.first!.shape[0]
            for i in 0..<batch {
                let single = fixture.inputs.mapValues { slice($0, i) }
                for (key, value) in try session.run(single) {
                    XCTAssertNil(closenessFailure(value.floats, slice(fixture.outputs[key]!, i).floats,
                                                  rtol: Self.opRelativeTolerance, atol: fixture.atol), "\(name) sample \(i)")
                }
            }
        }
    }

    private func slice(_ t: Tensor, _ i: Int) -> Tensor {
        let per = t.elementCount / t.shape[0]
        return Tensor(Array(t.floats[(i * per)..<((i + 1) * per)]), shape: Shape([1] + t.shape.dims.dropFirst()))
    }
}
