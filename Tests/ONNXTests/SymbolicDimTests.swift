import Foundation
import XCTest
import ModelFormats
import ModelGraph
import ModelRuntime
import TensorCore

/// Symbolic dims beyond the batch (docs/runtime.md, "Symbolic dimensions"): the BERT- and
/// GPT-2-style fixtures imported with no `--dim`, run at two sequence lengths in one session
/// against ONNX Runtime's outputs (8 tokens: gen-onnx-fixtures.py; 5 tokens:
/// gen-onnx-sequence-fixtures.py), plans made per length and reused.
final class SymbolicDimTests: XCTestCase {
    static func tensors(_ name: String) throws -> [String: Tensor] {
        var map: [String: Tensor] = [:]
        for (key, tensor) in try WeightReaders.read(ModelFamilyTests.fixture(name)).tensors { map[key] = tensor }
        return map
    }

    func checkOutputs(_ session: Session, _ inputs: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let outputs = try session.run(Self.tensors(inputs))
        for (name, reference) in try Self.tensors(expected) {
            let actual = try XCTUnwrap(outputs[name], "no output '\(name)'", file: file, line: line)
            XCTAssertEqual(actual.shape, reference.shape, "\(expected) '\(name)'", file: file, line: line)
            XCTAssertLessThanOrEqual(ModelFamilyTests.relativeError(actual.floats, reference.floats), ModelFamilyTests.relativeTolerance,
                                     "\(expected) '\(name)'", file: file, line: line)
        }
    }

    func checkTwoLengths(_ family: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let package = try ModelPackage.load(path: ModelFamilyTests.fixture("\(family).onnx"))
        XCTAssertEqual(package.graph.symbolicDims, ["sequence"], file: file, line: line)
        XCTAssertEqual(package.graph.inputs[0].dims, ["batch", "sequence"], file: file, line: line)
        let session = try Session(package: package, options: SessionOptions(maxBatch: 4))
        XCTAssertEqual(session.planCount, 1)
        try checkOutputs(session, "\(family)-inputs.npz", "\(family)-expected.npz", file: file, line: line)
        try checkOutputs(session, "\(family)-seq5-inputs.npz", "\(family)-seq5-expected.npz", file: file, line: line)
        XCTAssertEqual(session.planCount, 3, "the first plan (sequence=1) and one per length run", file: file, line: line)
        try checkOutputs(session, "\(family)-inputs.npz", "\(family)-expected.npz", file: file, line: line)
        XCTAssertEqual(session.planCount, 3, "a length run before reuses its plan", file: file, line: line)
    }

    func testBERTStyleEncoderRunsAtTwoSequenceLengthsWithoutDims() throws { try checkTwoLengths("bert") }
    func testGPT2StyleBlockRunsAtTwoSequenceLengthsWithoutDims() throws { try checkTwoLengths("gpt2") }

    /// At most `cachedPlans` plans are kept; an evicted length is planned again and still right.
    func testPlanCacheIsBoundedAndEvictedPlansComeBack() throws {
        let package = try ModelPackage.load(path: ModelFamilyTests.fixture("bert.onnx"))
        let session = try Session(package: package, options: SessionOptions(maxBatch: 4, cachedPlans: 2), dims: ["sequence": 8])
        try checkOutputs(session, "bert-inputs.npz", "bert-expected.npz")
        XCTAssertEqual(session.planCount, 1, "the first plan was made for sequence=8")
        try checkOutputs(session, "bert-seq5-inputs.npz", "bert-seq5-expected.npz")
        var short = try Self.tensors("bert-seq5-inputs.npz")
        for (name, tensor) in short { short[name] = Self.firstColumns(tensor, 3) }
        _ = try session.run(short)
        XCTAssertEqual(session.planCount, 2, "sequence=5 was evicted for sequence=3")
        try checkOutputs(session, "bert-seq5-inputs.npz", "bert-seq5-expected.npz")
        XCTAssertEqual(session.planCount, 2)
    }

    /// The fixed size `--dim` gives still imports a graph without symbolic dims.
    func testDimOptionFixesTheSize() throws {
        let package = try ModelPackage.load(path: ModelFamilyTests.fixture("bert.onnx"), onnx: ONNXImport.Options(dims: ["sequence": 8]))
        XCTAssertEqual(package.graph.symbolicDims, [])
        XCTAssertEqual(package.graph.inputs[0].shape, [-1, 8])
    }

    /// `convert bert.onnx -o bert.msa` keeps the symbolic dims: the artifact runs at both lengths.
    func testArtifactRoundTripKeepsSymbolicDims() throws {
        let package = try ModelPackage.load(path: ModelFamilyTests.fixture("bert.onnx"))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("symdims-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("bert.msa").path
        _ = try Artifact.write(package.contents, to: path)
        let back = try ModelPackage(contents: Artifact.read(path))
        XCTAssertEqual(back.graph, package.graph)
        XCTAssertEqual(back.graph.symbolicDims, ["sequence"])
        let session = try Session(package: back, options: SessionOptions(maxBatch: 4))
        try checkOutputs(session, "bert-seq5-inputs.npz", "bert-seq5-expected.npz")
        try checkOutputs(session, "bert-inputs.npz", "bert-expected.npz")
    }

    func testInputsThatDisagreeOnASymbolicDimAreOneLine() throws {
        let session = try Session(package: ModelPackage.load(path: ModelFamilyTests.fixture("bert.onnx")))
        var feeds = try Self.tensors("bert-inputs.npz")
        feeds["attention_mask"] = Self.firstColumns(feeds["attention_mask"]!, 5)
        XCTAssertThrowsError(try session.run(feeds)) { error in
            XCTAssertEqual("\(error)", "inputs 'input_ids' and 'attention_mask' disagree on symbolic dim 'sequence': 8 and 5")
        }
        let data = try Dataset(inputs: ["input_ids", "token_type_ids", "attention_mask"].map { ($0, feeds[$0]!) }, source: "tokens.npz")
        XCTAssertThrowsError(try data.checkShapes(against: session.graph, source: "tokens.npz")) { error in
            XCTAssertEqual("\(error)", "tokens.npz: inputs 'input_ids' and 'attention_mask' disagree on symbolic dim 'sequence': 8 and 5")
        }
    }

    /// A length beyond the position table is refused, naming the dim and what the model holds.
    func testSequenceLongerThanThePositionTableIsRefused() throws {
        let session = try Session(package: ModelPackage.load(path: ModelFamilyTests.fixture("gpt2.onnx")))
        let ids = try Tensor(dtype: .i64, shape: Shape([1, 17]), bytes: [UInt8](repeating: 0, count: 17 * 8))
        XCTAssertThrowsError(try session.run(["input_ids": ids])) { error in
            XCTAssertTrue("\(error)".hasPrefix("symbolic dim 'sequence': size 17 is more than node "), "\(error)")
        }
    }

    /// The leading `columns` entries of dim 1 of a `[batch, sequence]` array.
    static func firstColumns(_ tensor: Tensor, _ columns: Int) -> Tensor {
        let rows = tensor.shape[0], width = tensor.shape[1], item = tensor.dtype.byteSize
        var bytes: [UInt8] = []
        tensor.withUnsafeBytes { source in
            for r in 0..<rows { bytes += source[(r * width * item)..<((r * width + columns) * item)] }
        }
        return try! Tensor(dtype: tensor.dtype, shape: Shape([rows, columns]), bytes: bytes)
    }
}
