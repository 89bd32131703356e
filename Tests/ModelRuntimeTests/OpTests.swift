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

    /// MobileNetV2's conv → batchnorm → ReLU6 and MobileNetV3's conv → batchnorm → hardswish run as
    /// one oneDNN convolution each (batchnorm folded, the activation a post-op); the blocks' values
    /// match PyTorch in `testEveryOpMatchesNumpy` either way.
    func testReluSixFusesIntoTheConvolution() throws {
        let fixture = try OpFixture.named("onnx_block_mobilenet_v2")
        let session = try Session(package: fixture.package, options: SessionOptions(maxBatch: 2))
        // The residual add reads the NCHW graph input, so the blocked projection gets one reorder.
        XCTAssertEqual(session.plan.steps.filter { !($0.kernel is ReorderKernel) }.map(\.node), ["expand", "dw", "project", "residual"])
        XCTAssertEqual(session.plan.fusedAway["eb"], "expand")
        XCTAssertEqual(session.plan.fusedAway["db"], "dw")
        let stem = try Session(package: OpFixture.named("onnx_block_mobilenet_v3_stem").package)
        XCTAssertEqual(stem.plan.steps.map(\.node), ["stem"], "batchnorm folded, hardswish a post-op")
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

/// Integer graph inputs (token ids) are taken in their declared dtype and held as f32 values.
final class IntegerInputTests: XCTestCase {
    func ids(_ values: [Int64], shape: [Int]) -> Tensor {
        var t = Tensor(zeros: .i64, Shape(shape))
        t.withUnsafeMutableBufferPointer(of: Int64.self) { for i in values.indices { $0[i] = values[i] } }
        return t
    }

    func embedding() throws -> Session {
        let graph = Graph(name: "embed", inputs: [ValueInfo(name: "ids", shape: [-1, 3], dtype: .i64)], outputs: ["y"], nodes: [
            Node(name: "table", op: .constant, inputs: [], output: "table", params: ["value": "table"]),
            Node(name: "lookup", op: .gather, inputs: ["table", "ids"], output: "y"),
        ])
        let table = Tensor((0..<10).map { Float($0) * 0.5 }, shape: [5, 2])
        var tensors = TensorMap()
        tensors["table"] = table
        return try Session(package: ModelPackage(graph: graph, tensors: tensors))
    }

    func testInt64IdsGatherRowsOfAConstantTable() throws {
        let y = try embedding().run(["ids": ids([4, 0, -1, 2, 2, 1], shape: [2, 3])])["y"]!
        XCTAssertEqual(y.shape, [2, 3, 2])
        // Row r of the table is [r, r + 0.5]; -1 is the last row (ONNX Gather).
        XCTAssertEqual(y.floats, [4, 4.5, 0, 0.5, 4, 4.5, 2, 2.5, 2, 2.5, 1, 1.5])
    }

    func testBadIdsAreRefusedNamingTheInputOrNode() throws {
        let session = try embedding()
        XCTAssertThrowsError(try session.run(["ids": Tensor([0, 1, 2], shape: [1, 3])])) {
            XCTAssertEqual("\($0)", "input 'ids' has dtype f32, expected i64")
        }
        XCTAssertThrowsError(try session.run(["ids": ids([0, 1, 1 << 25], shape: [1, 3])])) {
            XCTAssertEqual("\($0)", "input 'ids': integer 33554432 at index 2 is beyond ±2^24, which f32 values hold exactly")
        }
        XCTAssertThrowsError(try session.run(["ids": ids([0, 5, 1], shape: [1, 3])])) {
            XCTAssertEqual("\($0)", "node 'lookup': gather index 5.0 at position 1 is not an integer in [-5, 5)")
        }
    }
}
