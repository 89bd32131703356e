import Foundation
import XCTest
import ModelFormats
import TensorCore

/// An ONNX model with a symbolic `sequence` dim from the command line, with no `--dim`
/// (docs/runtime.md, "Symbolic dimensions"): the BERT-style fixture of Tests/ONNXTests.
final class SymbolicDimCommandTests: XCTestCase {
    let fixtures = packageRoot.appendingPathComponent("Tests/ONNXTests/Fixtures")

    func testInspectNamesTheSymbolicDim() {
        let run = runModelSmith(["inspect", fixtures.appendingPathComponent("bert.onnx").path])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("inputs: input_ids [N, sequence] i64"), run.stdout)
        XCTAssertTrue(run.stdout.contains("[N, sequence, 32]"), run.stdout)
    }

    func testRunTakesTheSequenceLengthFromTheData() throws {
        let dir = try makeTemporaryDirectory()
        for (inputs, shape) in [("bert-inputs.npz", "[2, 8, 32]"), ("bert-seq5-inputs.npz", "[3, 5, 32]")] {
            let run = runModelSmith(["run", fixtures.appendingPathComponent("bert.onnx").path,
                                     "--input", fixtures.appendingPathComponent(inputs).path, "-o", dir.appendingPathComponent(inputs).path])
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertTrue(run.stdout.contains("last_hidden_state \(shape)"), run.stdout)
        }
    }

    func testArraysThatDisagreeOnTheSequenceAreOneLine() throws {
        let dir = try makeTemporaryDirectory()
        let ids = try Tensor(dtype: .i64, shape: Shape([2, 6]), bytes: [UInt8](repeating: 0, count: 12 * 8))
        let mask = try Tensor(dtype: .i64, shape: Shape([2, 4]), bytes: [UInt8](repeating: 0, count: 8 * 8))
        var arrays = TensorMap()
        arrays["input_ids"] = ids
        arrays["token_type_ids"] = ids
        arrays["attention_mask"] = mask
        let data = dir.appendingPathComponent("tokens.npz").path
        try PackageExporter.export(PackageContents(tensors: arrays, source: "tokens"), to: data)
        let out = dir.appendingPathComponent("out.npz").path
        let run = runModelSmith(["run", fixtures.appendingPathComponent("bert.onnx").path, "--input", data, "-o", out])
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.stderr, "modelsmith: error: \(data): inputs 'input_ids' and 'attention_mask' disagree on symbolic dim 'sequence': 6 and 4\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}
