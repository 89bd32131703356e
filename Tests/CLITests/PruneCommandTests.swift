import Foundation
import ModelFormats
import TensorCore
import XCTest

/// `prune` end to end on the PyTorch-trained digits student (Fixtures/prune), against counts NumPy
/// computed (`Fixtures/prune/make_expectations.py`).
final class PruneCommandTests: XCTestCase {
    private var weights: String { fixture("prune/student.weights.npz") }
    private var graph: String { fixture("prune/student.model.json") }

    private func expectations() throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture("prune/expectations.json")))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    private func zeros(_ t: Tensor) -> Int { t.floats.filter { $0 == 0 }.count }

    func testGlobalPruningWritesMasksAndZeroedWeights() throws {
        let dir = try makeTemporaryDirectory(), out = dir.appendingPathComponent("p50.msa").path
        let run = runModelSmith(["prune", weights, "--graph", graph, "--amount", "0.5", "--scope", "global", "-o", out])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("pruned (*) 50.0% of 4,736 weights"), run.stdout)

        let expected = try XCTUnwrap(try expectations()["global_0.5"] as? [String: Int])
        let artifact = try Artifact.read(out)
        for (name, count) in expected {
            let mask = try XCTUnwrap(artifact.masks[name], name)
            let weight = try XCTUnwrap(artifact.tensors[name], name)
            XCTAssertEqual(mask.elementCount - mask.integers.reduce(0, +), count, name)
            XCTAssertEqual(zeros(weight), count, name)
            XCTAssertTrue(zip(weight.floats, mask.integers).allSatisfy { $1 == 1 || $0.bitPattern == 0 }, "\(name): pruned entries are +0.0")
        }
        XCTAssertNil(artifact.masks["fc1.bias"])
        XCTAssertEqual(artifact.provenance.steps.last?.step, "prune")
        XCTAssertEqual(artifact.provenance.steps.last?.options["scope"], .string("global"))
    }

    /// Pruning the pruned artifact again prunes half of what is left (75%), and `inspect` shows it.
    func testPruningAPrunedArtifactComposes() throws {
        let dir = try makeTemporaryDirectory()
        let once = dir.appendingPathComponent("once.msa").path, twice = dir.appendingPathComponent("twice.msa").path
        XCTAssertEqual(runModelSmith(["prune", weights, "--graph", graph, "--amount", "0.5", "--layers", "fc1", "-o", once]).status, 0)
        let run = runModelSmith(["prune", once, "--amount", "0.5", "--layers", "fc1", "-o", twice, "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["zeros"] as? Int, try expectations()["fc1_twice_0.5_pruned"] as? Int)
        XCTAssertEqual(json["pruned"] as? [String], ["fc1.weight"])
        let inspect = runModelSmith(["inspect", twice])
        XCTAssertEqual(inspect.status, 0, inspect.stderr)
        XCTAssertTrue(inspect.stdout.contains("75.0%"), inspect.stdout)
    }

    func testCountAmountPrunesExactlyThatMany() throws {
        let dir = try makeTemporaryDirectory(), out = dir.appendingPathComponent("c.msa").path
        XCTAssertEqual(runModelSmith(["prune", weights, "--graph", graph, "--amount", "100", "--layers", "fc2", "-o", out]).status, 0)
        let artifact = try Artifact.read(out)
        XCTAssertEqual(zeros(try XCTUnwrap(artifact.tensors["fc2.weight"])), 100)
        XCTAssertEqual(zeros(try XCTUnwrap(artifact.tensors["fc1.weight"])), 0)
    }

    /// Bad input: exit 2, one clear line, no output file.
    func testBadInputIsRefusedWithoutOutput() throws {
        let dir = try makeTemporaryDirectory(), out = dir.appendingPathComponent("bad.msa").path
        let cases: [([String], String)] = [
            (["--amount", "nan"], "modelsmith: error: pruning amount nan is not a fraction in [0, 1] (use an integer for a count)"),
            (["--amount", "-0.1"], "modelsmith: error: pruning amount -0.1 is not a fraction in [0, 1] (use an integer for a count)"),
            (["--amount", "1.5"], "modelsmith: error: pruning amount 1.5 is not a fraction in [0, 1] (use an integer for a count)"),
            (["--amount", "-3"], "modelsmith: error: pruning amount -3 is negative; a count must be ≥ 0"),
            (["--amount", "641", "--layers", "fc2"], "modelsmith: error: pruning amount 641 exceeds the 640 unpruned entries of fc2.weight"),
            (["--amount", "0.5", "--layers", "fc1,conv9"], "modelsmith: error: unknown layer or parameter 'conv9'; prunable layers: fc1, fc2"),
            (["--amount", "0.5", "--exclude", "fc1,fc2"],
             "modelsmith: error: model 'digits-student-mlp' has no prunable layers (weights of linear or conv2d nodes) left to prune"),
        ]
        for (args, message) in cases {
            let run = runModelSmith(["prune", weights, "--graph", graph, "-o", out] + args)
            XCTAssertEqual(run.status, 2, "\(args)")
            XCTAssertEqual(run.stderr, message + "\n", "\(args)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(args) left an output")
        }
        _ = FileManager.default.createFile(atPath: out, contents: Data("keep".utf8))
        let exists = runModelSmith(["prune", weights, "--graph", graph, "--amount", "0.5", "-o", out])
        XCTAssertEqual(exists.status, 2)
        XCTAssertEqual(exists.stderr, "modelsmith: error: \(out): already exists; pass --force to overwrite\n")
        XCTAssertEqual(try String(contentsOfFile: out, encoding: .utf8), "keep")
    }

    func testSensitivityReportsEveryLayerPerLayerAndGlobal() throws {
        let dir = try makeTemporaryDirectory(), svg = dir.appendingPathComponent("sens.svg").path
        let run = runModelSmith(["prune", weights, "--graph", graph, "--sensitivity", "--eval", fixture("prune/student.forward.npz"),
                                 "--steps", "0,0.5", "--report", svg, "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["baseline"] as? Double ?? 0, 0.9611, accuracy: 0.00015)  // PyTorch: 0.9611
        let curves = try XCTUnwrap(json["curves"] as? [[String: Any]])
        XCTAssertEqual(curves.map { $0["target"] as? String }, ["fc1.weight", "fc2.weight", "per-layer", "global"])
        for curve in curves {  // step 0 prunes nothing: the dense accuracy
            let first = try XCTUnwrap((curve["points"] as? [[String: Double]])?.first)
            XCTAssertEqual(first["accuracy"], json["baseline"] as? Double)
        }
        let chart = try String(contentsOfFile: svg, encoding: .utf8)
        XCTAssertTrue(chart.hasPrefix("<svg") && chart.contains("per-layer") && chart.contains("global"))
    }

    func testHelpHasAnExample() {
        let run = runModelSmith(["prune", "--help"])
        XCTAssertEqual(run.status, 0)
        // Help text currently goes to stderr (mainEntry's generic path); accept either stream.
        let help = run.stdout + run.stderr
        XCTAssertTrue(help.contains("Examples:") && help.contains("modelsmith prune teacher.tar.zst --amount 0.8 --scope global -o p80.msa"), help)
    }
}
