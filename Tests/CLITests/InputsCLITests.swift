import Foundation
import ModelFormats
import TensorCore
import XCTest

/// Inputs as users have them, through the CLI: data converted with a one-line note (or refused with
/// --strict-dtypes), `run -q`, messages that say what to do. Data fixtures are copies of
/// Tests/ModelFormatsTests/Fixtures/inputs (make_input_fixtures.py there).
final class InputsCLITests: XCTestCase {
    var student: [String] { [fixture("runtime/student.weights.npz"), "--graph", fixture("runtime/student.model.json")] }

    private func outputs(_ data: String, in dir: URL, extra: [String] = []) throws -> (run: (status: Int32, stdout: String, stderr: String), logits: Tensor?) {
        let out = dir.appendingPathComponent(UUID().uuidString + ".npz").path
        let run = runModelSmith(["run"] + student + ["--input", fixture("inputs/\(data)"), "-o", out] + extra)
        return (run, run.status == 0 ? try WeightReaders.read(out).tensors["logits"] : nil)
    }

    func testByteImagesAndFloat64DataRunExactlyAsTheirF32Values() throws {
        let dir = try makeTemporaryDirectory()
        let u8 = try outputs("data_u8.npz", in: dir), f32 = try outputs("data_f32.npz", in: dir)
        XCTAssertEqual(u8.run.status, 0, u8.run.stderr)
        XCTAssertTrue(try XCTUnwrap(u8.logits).bitwiseEqual(try XCTUnwrap(f32.logits)))
        XCTAssertEqual(u8.run.stderr, "\(fixture("inputs/data_u8.npz")): converted 1 uint8 → f32 (exact); --strict-dtypes refuses instead\nwrote \(u8.run.stderr.split(separator: "\n").last!.dropFirst("wrote ".count))\n")

        let f64 = try outputs("data_f64.npz", in: dir), rounded = try outputs("data_f64_as_f32.npz", in: dir)
        XCTAssertTrue(try XCTUnwrap(f64.logits).bitwiseEqual(try XCTUnwrap(rounded.logits)))
        let note = try XCTUnwrap(f64.run.stderr.split(separator: "\n").first)
        XCTAssertTrue(note.hasPrefix("\(fixture("inputs/data_f64.npz")): converted 1 float64 → f32; largest rounding error ") && note.hasSuffix(" (in 'x'); --strict-dtypes refuses instead"), String(note))
    }

    func testStrictDTypesRefusesConvertedDataInOneLine() throws {
        let dir = try makeTemporaryDirectory()
        let strict = try outputs("data_f64.npz", in: dir, extra: ["--strict-dtypes"])
        XCTAssertEqual(strict.run.status, 2)
        XCTAssertEqual(strict.run.stderr, "modelsmith: error: \(fixture("inputs/data_f64.npz")): tensor 'x' is float64, not a compute dtype; refused by --strict-dtypes (without it, it is converted to f32)\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "no output written")
    }

    /// `distill` (and so `train`, which shares its options) refuses converted data and teachers too.
    func testDistillStrictDTypesRefusesConvertedDataInOneLine() throws {
        let dir = try makeTemporaryDirectory()
        let out = dir.appendingPathComponent("s.msa").path
        let model = [fixture("runtime/student.weights.npz")], graph = fixture("runtime/student.model.json")
        let strict = runModelSmith(["distill", "--teacher"] + model + ["--teacher-graph", graph, "--student"] + model + ["--student-graph", graph,
                                   "--data", fixture("inputs/data_f64.npz"), "--no-labels", "--epochs", "1", "--strict-dtypes", "-o", out])
        XCTAssertEqual(strict.status, 2)
        XCTAssertEqual(strict.stderr, "modelsmith: error: \(fixture("inputs/data_f64.npz")): tensor 'x' is float64, not a compute dtype; refused by --strict-dtypes (without it, it is converted to f32)\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "no output written")
    }

    func testRunQuietPrintsNothingButErrors() throws {
        let dir = try makeTemporaryDirectory()
        let quiet = try outputs("data_u8.npz", in: dir, extra: ["-q"])
        XCTAssertEqual(quiet.run.status, 0)
        XCTAssertEqual(quiet.run.stdout, "")
        XCTAssertEqual(quiet.run.stderr, "")
        XCTAssertNotNil(quiet.logits)
        let noOutput = runModelSmith(["run"] + student + ["--input", fixture("inputs/data_f32.npz"), "-q"])
        XCTAssertEqual([noOutput.stdout, noOutput.stderr], ["", ""])
    }

    func testPrefixedNamesSuggestStripPrefixWhichEveryCommandTakes() throws {
        let args = ["inspect", fixture("pytorch/dataparallel.pt"), "--key", "state_dict", "--graph", fixture("pytorch/mlp.model.json")]
        let refused = runModelSmith(args)
        XCTAssertEqual(refused.status, 2)
        XCTAssertEqual(refused.stderr, "modelsmith: error: \(fixture("pytorch/mlp.model.json")): node 'fc1': param 'weight' refers to tensor 'fc1.weight', which is absent; the file has 'module.fc1.weight': pass --strip-prefix module.\n")
        let stripped = runModelSmith(args + ["--strip-prefix", "module."])
        XCTAssertEqual(stripped.status, 0, stripped.stderr)
        XCTAssertTrue(stripped.stdout.contains("fc1   linear  [N, 4]  [N, 3]      15"), stripped.stdout)
    }

    /// Two linear nodes sharing one weight (tied weights): excluding one of them names both.
    func testTiedWeightsNameBothNodes() throws {
        let dir = try makeTemporaryDirectory()
        let graph = dir.appendingPathComponent("tied.json")
        try Data(#"""
        {"modelsmith": 1, "name": "tied", "inputs": [{"name": "x", "shape": [-1, 4]}], "outputs": ["y"],
         "nodes": [{"name": "encode", "op": "linear", "inputs": ["x"], "output": "h", "params": {"weight": "shared.weight"}},
                   {"name": "act", "op": "relu", "inputs": ["h"], "output": "a"},
                   {"name": "decode", "op": "linear", "inputs": ["a"], "output": "y", "params": {"weight": "shared.weight"}}]}
        """#.utf8).write(to: graph)
        var weights = TensorMap()
        weights["shared.weight"] = Tensor((0..<16).map { Float($0 % 5) - 2 }, shape: [4, 4])
        let weightsPath = dir.appendingPathComponent("tied.npz").path
        try PackageExporter.export(PackageContents(tensors: weights, source: "tied"), to: weightsPath)
        var calib = TensorMap()
        calib["x"] = Tensor((0..<32).map { Float($0) / 8 }, shape: [8, 4])
        let calibPath = dir.appendingPathComponent("calib.npz").path
        try PackageExporter.export(PackageContents(tensors: calib, source: "calib"), to: calibPath)

        let run = runModelSmith(["quantize", weightsPath, "--graph", graph.path, "--calib", calibPath, "--exclude", "decode",
                                 "-o", dir.appendingPathComponent("q.msa").path])
        XCTAssertEqual(run.status, 2)
        XCTAssertEqual(run.stderr, "modelsmith: error: tensor 'shared.weight' is the weight of nodes 'encode' and 'decode' (tied weights), but only 'encode' would be quantized; exclude both or neither\n")
    }

    /// A cache's symbolic link is measured as the file it leads to.
    func testInspectOfASymlinkReportsTheTargetsSizeOnDisk() throws {
        let dir = try makeTemporaryDirectory()
        let target = fixture("runtime/student.weights.npz")
        let link = dir.appendingPathComponent("weights.npz").path
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        let run = runModelSmith(["inspect", link, "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let totals = try XCTUnwrap(object["totals"] as? [String: Any])
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: target)[.size] as? Int)
        XCTAssertEqual(totals["bytes_on_disk"] as? Int, size)
    }
}
